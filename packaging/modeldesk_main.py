"""The frozen app's entry point: the ``modeldesk`` command line, as ``core.cli`` runs it.

``multiprocessing.freeze_support()`` must run first: the tree-SHAP worker pool uses
the ``spawn`` start method, which in a frozen app re-runs this executable as the child.
"""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    from core.cli import main

    sys.exit(main())

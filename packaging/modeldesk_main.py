"""The frozen app's entry point: the ``modeldesk`` command line, as ``modeldesk.cli`` runs it.

``multiprocessing.freeze_support()`` must run first: the tree-SHAP worker pool uses
the ``spawn`` start method, which in a frozen app re-runs this executable as the child.
"""

import multiprocessing
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    from modeldesk.cli import main

    sys.exit(main())

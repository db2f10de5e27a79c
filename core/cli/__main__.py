"""``python -m modeldesk.cli`` runs the modeldesk command line."""

import sys

from modeldesk.cli import main

sys.exit(main())

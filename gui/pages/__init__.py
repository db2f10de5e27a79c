"""Pages shown on the right of the main window, one per kind of record."""

"""ModelDesk's desktop app (PySide6 + pyqtgraph): views over core, never logic of its own."""

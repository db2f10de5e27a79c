"""Reusable widgets: tables, charts, editors, the model diff view."""

"""Subcommands of ``modeldesk``, one module per area; each lists its own in ``COMMANDS``.

Nothing registers itself on import: :mod:`modeldesk.cli.app` adds every module's
``COMMANDS`` to the group explicitly, so the group has its commands wherever it is
imported from.
"""

"""Releases: signing keys, trust, gates, approvals and bundles."""

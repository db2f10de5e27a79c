"""Validation suites: the checks every model version must pass, verdicts from intervals."""

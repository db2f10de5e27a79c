"""The Validate tab's work on the worker pool: each a composition of core calls.

Edited suite text is stored (once it can run on the model) before it runs: a run is
evidence of a stored suite version.
"""

from __future__ import annotations

from typing import Any

__all__ = ["bisect", "history", "validate_every_version", "validate_text"]


def validate_text(catalog: Any, *, text: str, model_ref: str, on_inconclusive: str | None,
                  progress: Any, cancel: Any) -> dict[str, Any]:  # fmt: skip
    """Store the editor's text (once it can run) and run it."""
    from modeldesk.validate.run import run_suite, store_checked_suite

    stored = store_checked_suite(catalog, text, model_ref, name="the suite")
    run = run_suite(catalog, stored, model_ref, on_inconclusive=on_inconclusive,
                    progress=progress, cancel=cancel)  # fmt: skip
    return run.to_dict()


def bisect(catalog: Any, *, text: str, model_ref: str, check_id: str, progress: Any,
           cancel: Any) -> Any:  # fmt: skip
    """Store the text, then find where along the lineage the check first fails."""
    from modeldesk.validate.history import bisect_check
    from modeldesk.validate.run import store_checked_suite

    stored = store_checked_suite(catalog, text, model_ref, name="the suite")
    return bisect_check(catalog, stored, model_ref, check_id, progress=progress, cancel=cancel)


def validate_every_version(catalog: Any, *, text: str, model_ref: str, progress: Any,
                           cancel: Any) -> Any:  # fmt: skip
    """Store the text, then run it on every version of its model."""
    from modeldesk.validate.history import validate_versions
    from modeldesk.validate.run import store_checked_suite

    stored = store_checked_suite(catalog, text, model_ref, name="the suite")
    return stored.ref, validate_versions(catalog, stored, progress=progress, cancel=cancel)


def history(catalog: Any, *, model_name: str, suite_name: str) -> Any:
    """Versions x checks of the suite."""
    from modeldesk.validate.history import suite_history

    return suite_history(catalog, model_name, suite_name)

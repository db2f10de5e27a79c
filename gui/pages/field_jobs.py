"""The Field tab's work on the worker pool: each a composition of core calls.

Analysing a capture replays it through its model (and, for which-model, through every
candidate), streams it against the training profile and explains its top rows: seconds
of work on a large capture, none of it for the GUI thread.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["analyse", "captures", "import_capture", "write_report"]


def captures(catalog: Any, *, model_name: str) -> list[Any]:
    """The model's stored captures, newest first."""
    from modeldesk.field.registry import list_captures

    return list_captures(catalog, model_name)


def import_capture(
    catalog: Any, *, path: str, model_ref: str | None, progress: Any, cancel: Any
) -> Any:
    """Check and store a capture file (the model from ``model_ref`` or its capture.json)."""
    from modeldesk.field.read import read_manifest
    from modeldesk.field.registry import import_capture as store

    manifest = read_manifest(Path(path))
    named = manifest.get("release") is not None or manifest.get("model_sha256")
    return store(catalog, Path(path), model=None if named else model_ref,
                 progress=progress, cancel=cancel)  # fmt: skip


def analyse(
    catalog: Any, *, capture_id: int, bundle: str | None, progress: Any, cancel: Any
) -> dict[str, Any]:
    """Every analysis of a capture, as ``field report`` gathers it."""
    from modeldesk.field.report import build_report

    return build_report(catalog, capture_id, bundle=Path(bundle) if bundle else None,
                        progress=progress, cancel=cancel)  # fmt: skip


def write_report(catalog: Any, *, report: dict[str, Any], path: str) -> str:
    """Write an analysed capture's report (HTML or Markdown, by the suffix) to ``path``."""
    from modeldesk.field.report import write_report as write

    return str(write(report, Path(path)))

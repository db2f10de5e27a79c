"""Paths stored in catalog.db are untrusted: check them before anything is laid out.

A catalog folder may come from someone else, so a file name or an external-data path
read from catalog.db is checked wherever it is materialised (laid out in a scratch
folder) and by ``catalog check``: relative, forward slashes only, no ``..``, no NUL, and
resolving inside the folder it is laid out in.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath, PureWindowsPath

from modeldesk.errors import IntegrityError

__all__ = ["file_name_problem", "inside", "relative_path_problem"]


def relative_path_problem(text: object) -> str | None:
    """Why ``text`` is not a safe relative path inside a folder, or None if it is."""
    if not isinstance(text, str) or not text.strip():
        return "is empty"
    if "\x00" in text:
        return "holds a NUL character"
    if "\\" in text:
        return "holds a backslash"
    path = PurePosixPath(text)
    if path.is_absolute() or PureWindowsPath(text).drive:
        return "is absolute"
    if ".." in path.parts:
        return "climbs out of its folder with '..'"
    if not path.parts:
        return "names no file"
    return None


def file_name_problem(text: object) -> str | None:
    """Why ``text`` is not a plain file name (one safe path component), or None."""
    problem = relative_path_problem(text)
    if problem is None and len(PurePosixPath(str(text)).parts) != 1:
        return "is not a plain file name"
    return problem


def inside(folder: Path, relative: str, *, what: str, file_name: bool = False) -> Path:
    """``folder / relative`` after checking it stays inside ``folder``.

    Raises ``IntegrityError`` naming ``what`` (the record the path came from).
    """
    problem = file_name_problem(relative) if file_name else relative_path_problem(relative)
    if problem is None:
        target = folder / relative
        if target.resolve().is_relative_to(folder.resolve()):
            return target
        problem = "resolves outside its folder"
    raise IntegrityError(f"{what}: path {relative!r} {problem}; refused")

"""Record names and version references (``NAME``, ``NAME@3``, ``NAME@latest``).

Names are NFC-normalised and otherwise stored as given: quotes, SQL keywords,
emoji and path separators are all fine because names only ever reach SQL as
bound parameters and never reach the file system (blob paths come from hashes).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from modeldesk.errors import InvalidNameError

__all__ = ["MAX_NAME_LENGTH", "VersionRef", "normalise_name", "parse_ref"]

MAX_NAME_LENGTH = 200


def normalise_name(name: str, *, what: str = "name") -> str:
    """Return ``name`` in NFC form, or raise ``InvalidNameError`` saying why not."""
    if not isinstance(name, str):
        raise InvalidNameError(f"{what} {name!r}: must be text")
    normalised = unicodedata.normalize("NFC", name)
    if not normalised.strip():
        raise InvalidNameError(f"{what} {name!r}: must not be empty or blank")
    if len(normalised) > MAX_NAME_LENGTH:
        raise InvalidNameError(
            f"{what} {normalised[:40]!r}...: longer than {MAX_NAME_LENGTH} characters"
        )
    if "@" in normalised:
        raise InvalidNameError(
            f"{what} {normalised!r}: must not contain '@' (it separates name and version)"
        )
    if any(unicodedata.category(ch) == "Cc" for ch in normalised):
        raise InvalidNameError(f"{what} {normalised!r}: must not contain control characters")
    return normalised


@dataclass(frozen=True)
class VersionRef:
    """A reference to one version of a named record; ``version=None`` means latest."""

    name: str
    version: int | None

    def __str__(self) -> str:
        return f"{self.name}@{'latest' if self.version is None else self.version}"


def parse_ref(text: str) -> VersionRef:
    """Parse ``NAME``, ``NAME@N`` or ``NAME@latest`` into a ``VersionRef``."""
    name, sep, version_text = text.rpartition("@")
    if not sep:
        return VersionRef(normalise_name(text), None)
    name = normalise_name(name)
    if version_text == "latest":
        return VersionRef(name, None)
    # isascii: str.isdigit() also accepts '²' and other digits int() cannot read.
    if not (version_text.isascii() and version_text.isdigit()) or int(version_text) < 1:
        raise InvalidNameError(
            f"{text!r}: version must be a whole number from 1 or 'latest', not {version_text!r}"
        )
    return VersionRef(name, int(version_text))

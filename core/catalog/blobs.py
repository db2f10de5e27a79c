"""Content-addressed file storage: ``blobs/sha256/<2 hex>/<62 hex>``.

Writes go to a temporary file inside ``blobs/sha256/``, are fsynced, then
renamed into place, so a crash leaves at worst a temporary file or an orphan
blob (both removed by ``catalog gc``), never a half-written blob under its
final name. Reads verify the bytes against the name.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from modeldesk.errors import IntegrityError, NotFoundError
from modeldesk.progress import ProgressCallback, check_cancel, no_progress

__all__ = ["BlobStore", "hash_file"]

CHUNK = 1 << 20
TEMP_PREFIX = "tmp-"
SCRATCH_LOCK = ".in-use"
_HEX64 = re.compile(r"[0-9a-f]{64}")


def hash_file(
    path: Path,
    *,
    progress: ProgressCallback = no_progress,
    cancel: threading.Event | None = None,
) -> str:
    """Return the sha256 hex digest of the file at ``path``."""
    digest = hashlib.sha256()
    total = path.stat().st_size
    done = 0
    with path.open("rb") as source:
        while chunk := source.read(CHUNK):
            digest.update(chunk)
            done += len(chunk)
            progress(done, total, f"hashing {path.name}")
            check_cancel(cancel, str(path))
    return digest.hexdigest()


def _lock(handle: BinaryIO, *, exclusive: bool, wait: bool) -> bool:
    """``flock`` a file (where the OS has it); False when ``wait`` is off and it is held."""
    try:
        import fcntl
    except ImportError:
        return True
    flags = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
    try:
        fcntl.flock(handle.fileno(), flags if wait else flags | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _fsync_dir(folder: Path) -> None:
    # Directory fsync makes the rename durable; not supported on Windows.
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class BlobStore:
    """The ``blobs/`` folder of a catalog."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.sha_root = root / "sha256"

    def path(self, sha256: str) -> Path:
        """Where the blob with this hash lives (whether or not it exists)."""
        if not isinstance(sha256, str) or not _HEX64.fullmatch(sha256):
            # Hashes come from catalog.db, which may have been edited by hand.
            raise IntegrityError(f"blob name {sha256!r} is not a sha256 hex digest; refused")
        return self.sha_root / sha256[:2] / sha256[2:]

    def exists(self, sha256: str) -> bool:
        """True if a blob with this hash is stored (its bytes are not checked)."""
        return self.path(sha256).is_file()

    def new_temp(self) -> Path:
        """A fresh temporary file path inside the store, for a writer to fill."""
        self.sha_root.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=self.sha_root)
        os.close(fd)
        return Path(name)

    @contextlib.contextmanager
    def scratch(self, purpose: str) -> Iterator[Path]:
        """A private working folder inside the store, removed when the block ends.

        Work that lays files out (a model with its external data, an examiner's result)
        happens here rather than in the system's temporary folder: on the catalog's own
        file system, and if the process is killed the folder is a leftover of an
        interrupted write, which ``catalog gc`` removes. While the block runs, the folder's
        lock file is held, so gc in another process leaves a live folder alone.
        """
        with self.guard():  # gc cannot look between the folder's creation and its lock
            self.sha_root.mkdir(parents=True, exist_ok=True)
            folder = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{purpose}-", dir=self.sha_root))
            holder = (folder / SCRATCH_LOCK).open("a+b")
            _lock(holder, exclusive=True, wait=True)
        try:
            yield folder
        finally:
            holder.close()
            shutil.rmtree(folder, ignore_errors=True)

    @staticmethod
    def scratch_in_use(folder: Path) -> bool:
        """Whether a live process holds this scratch folder (see :meth:`scratch`)."""
        try:
            handle = (folder / SCRATCH_LOCK).open("rb")
        except OSError:
            return False
        with handle:
            return not _lock(handle, exclusive=True, wait=False)

    def adopt(self, temp: Path, sha256: str | None = None) -> str:
        """Move a filled temporary file into place under its hash; return the hash.

        If a blob with the same hash exists, the temporary file is dropped: the
        store keeps one copy of each content.
        """
        if sha256 is None:
            sha256 = hash_file(temp)
        with temp.open("rb+") as handle:
            os.fsync(handle.fileno())
        final = self.path(sha256)
        if final.is_file():
            temp.unlink()
            return sha256
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(temp, final)
        _fsync_dir(final.parent)
        return sha256

    def put_file(
        self,
        source: Path,
        *,
        expected_sha256: str | None = None,
        progress: ProgressCallback = no_progress,
        cancel: threading.Event | None = None,
    ) -> tuple[str, int]:
        """Copy ``source`` into the store, hashing as it copies; return (hash, size).

        With ``expected_sha256``, a file that changed since it was hashed is
        refused instead of being stored under the wrong name.
        """
        digest = hashlib.sha256()
        total = source.stat().st_size
        size = 0
        temp = self.new_temp()
        try:
            with source.open("rb") as src, temp.open("wb") as dst:
                while chunk := src.read(CHUNK):
                    digest.update(chunk)
                    dst.write(chunk)
                    size += len(chunk)
                    progress(size, total, f"storing {source.name}")
                    check_cancel(cancel, str(source))
            sha256 = digest.hexdigest()
            if expected_sha256 is not None and sha256 != expected_sha256:
                raise IntegrityError(f"{source}: the file changed while it was being imported")
            self.adopt(temp, sha256)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        return sha256, size

    def put_bytes(self, data: bytes) -> str:
        """Store ``data``; return its hash."""
        temp = self.new_temp()
        try:
            temp.write_bytes(data)
            return self.adopt(temp, hashlib.sha256(data).hexdigest())
        except BaseException:
            temp.unlink(missing_ok=True)
            raise

    def verify(self, sha256: str) -> str | None:
        """Return None if the blob is present and intact, else what is wrong."""
        try:
            path = self.path(sha256)
        except IntegrityError as error:
            return str(error)
        if not path.is_file():
            return f"blob {sha256}: missing ({path})"
        actual = hash_file(path)
        if actual != sha256:
            return f"blob {sha256}: content does not match its hash (it hashes to {actual})"
        return None

    def verified_path(self, sha256: str) -> Path:
        """The blob's path after checking its bytes against its hash.

        Raises ``NotFoundError`` if it is missing and ``IntegrityError`` if its
        bytes changed on disk.
        """
        problem = self.verify(sha256)
        if problem is None:
            return self.path(sha256)
        if not self.path(sha256).is_file():
            raise NotFoundError(problem)
        raise IntegrityError(problem)

    def read_bytes(self, sha256: str) -> bytes:
        """The blob's bytes, verified against its hash."""
        data = self.path(sha256).read_bytes() if self.exists(sha256) else None
        if data is None:
            raise NotFoundError(f"blob {sha256}: missing ({self.path(sha256)})")
        if hashlib.sha256(data).hexdigest() != sha256:
            raise IntegrityError(f"blob {sha256}: content does not match its hash")
        return data

    def iter_hashes(self) -> Iterator[str]:
        """Every stored blob's hash (temporary files excluded)."""
        if not self.sha_root.is_dir():
            return
        for prefix_dir in sorted(self.sha_root.iterdir()):
            if not prefix_dir.is_dir() or len(prefix_dir.name) != 2:
                continue
            for blob in sorted(prefix_dir.iterdir()):
                candidate = prefix_dir.name + blob.name
                if _HEX64.fullmatch(candidate):
                    yield candidate

    def iter_temps(self) -> Iterator[Path]:
        """Temporary files and scratch folders left by interrupted writes."""
        if self.sha_root.is_dir():
            yield from sorted(self.sha_root.glob(TEMP_PREFIX + "*"))

    @contextlib.contextmanager
    def guard(self, *, exclusive: bool = False) -> Iterator[None]:
        """Hold the store's lock: shared while writing blobs and the rows that
        name them, exclusive while garbage collecting.

        Without it, gc could delete a blob that an import has written but not
        yet committed a row for. Uses ``flock`` where the OS has it; elsewhere
        gc relies on its age guard alone.
        """
        self.sha_root.mkdir(parents=True, exist_ok=True)
        # Closing the file releases the lock, also when the block raises.
        with (self.root / ".lock").open("a+b") as handle:
            _lock(handle, exclusive=exclusive, wait=True)
            yield

    @staticmethod
    def remove_temp(temp: Path) -> None:
        """Delete a temporary file or scratch folder (used by garbage collection only)."""
        if temp.is_dir() and not temp.is_symlink():
            shutil.rmtree(temp, ignore_errors=True)
        else:
            temp.unlink(missing_ok=True)

    def remove(self, sha256: str) -> None:
        """Delete a blob (used by garbage collection only)."""
        self.path(sha256).unlink(missing_ok=True)

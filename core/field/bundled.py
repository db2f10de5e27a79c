"""The training data's reference profile, carried in a release bundle.

At packaging, the bundle gains ``reference/profile.json`` (the profile drift, estimate
and triage read: see :mod:`modeldesk.field.reference`, plus the calibration check of
the version's probabilities on its labelled training data) and
``reference/sample.parquet`` (the exact sample of up to 10,000 training rows the profile
was drawn with). Both are attested like every other file, so a field laptop that has
neither the training data nor a network reads them from the bundle (``--bundle
FILE.mdrel``), verified with the keys its catalog trusts.

A bundle is untrusted input even when its signatures hold (a trusted key can still sign
a malformed file): its reference is size-capped and checked for structure before any
analysis reads it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modeldesk.catalog.store import Catalog
from modeldesk.errors import BadInputError
from modeldesk.models.registry import ModelVersion

__all__ = [
    "REFERENCE_PROFILE",
    "REFERENCE_SAMPLE",
    "BundledReference",
    "bundle_reference",
    "check_profile",
    "reference_entries",
    "training_reference",
]

REFERENCE_PROFILE = "reference/profile.json"
REFERENCE_SAMPLE = "reference/sample.parquet"
MAX_PROFILE_BYTES = 64 << 20
MAX_SAMPLE_BYTES = 256 << 20
MAX_LIST = 1_000_000  # no list in a profile is longer (grids hold at most 10,000 values)


@dataclass(frozen=True)
class BundledReference:
    """A reference profile and its sample rows (an Arrow table), and where they came from."""

    profile: dict[str, Any]
    sample: Any
    source: str


def training_reference(catalog: Catalog, model: ModelVersion) -> BundledReference | None:
    """The reference of the data ``model`` was trained on, as a bundle carries it; None
    when the version names no training data (nothing to carry)."""
    import pyarrow as pa

    from modeldesk.datasets.registry import get_dataset_version, read_rows
    from modeldesk.debug.feeds import feed_plan
    from modeldesk.field.drift_run import reference_from_table
    from modeldesk.field.estimate import calibration_check
    from modeldesk.field.reference import sample_indices

    if not model.trained_on:
        return None
    dataset = get_dataset_version(catalog, model.trained_on)
    features = list(feed_plan(model, dataset).columns)
    table = read_rows(catalog, dataset)
    profile = reference_from_table(dataset, table, features, model.ref)
    profile["calibration_check"] = calibration_check(catalog, model, dataset, table)
    kept = features + ([dataset.label] if dataset.label and dataset.label not in features else [])
    sample = table.take(pa.array(sample_indices(table.num_rows))).select(kept)
    return BundledReference(profile, sample, f"training data {dataset.ref}")


def reference_entries(catalog: Catalog, model: ModelVersion) -> tuple[dict, dict] | None:
    """The bundle entries ({name: bytes}) of ``model``'s training reference and what the
    manifest says of them; None when the version names no training data."""
    import pyarrow.parquet as pq

    reference = training_reference(catalog, model)
    if reference is None:
        return None
    buffer = io.BytesIO()
    pq.write_table(reference.sample, buffer)
    text = json.dumps(reference.profile, indent=1, sort_keys=True, allow_nan=False)
    entries = {REFERENCE_PROFILE: text.encode() + b"\n", REFERENCE_SAMPLE: buffer.getvalue()}
    summary = {key: reference.profile[key] for key in ("dataset", "rows", "sample_rows")}
    return entries, summary | {"profile": REFERENCE_PROFILE, "sample": REFERENCE_SAMPLE}


def _fail(where: str, problem: str) -> BadInputError:
    return BadInputError(f"{where}: {problem}")


def _numbers(value: Any, where: str, what: str, *, counts: bool = False) -> list:
    """``value`` if it is a list of finite numbers (non-negative integers with
    ``counts``); checked with numpy, since a profile holds some 300,000 of them."""
    import numpy as np

    if not isinstance(value, list) or len(value) > MAX_LIST:
        raise _fail(where, f"{what} is not a list of numbers")
    array = np.asarray(value) if value else np.zeros(0, dtype=np.int64)
    wanted = "i" if counts else "if"
    if (
        array.ndim != 1
        or array.dtype.kind not in wanted
        or any(isinstance(item, bool) for item in value[:1])
    ):
        bad = next((v for v in value if isinstance(v, bool) or not isinstance(v, int | float)
                    or (counts and not isinstance(v, int))), value[:1])  # fmt: skip
        raise _fail(where, f"{what} holds {bad!r}, not a {'count' if counts else 'number'}")
    if counts and array.size and array.min() < 0:
        raise _fail(where, f"{what} holds {int(array.min())}, not a count")
    if not counts and not np.all(np.isfinite(array)):
        raise _fail(where, f"{what} holds a value that is not finite")
    return value


def _check_number(profile: dict, where: str) -> None:
    import numpy as np

    if profile.get("empty"):
        return
    for key in ("mean", "std", "min", "max"):
        _numbers([profile.get(key)], where, key)
    for key in ("quantiles", "psi_edges", "display_edges", "grid"):
        values = np.asarray(_numbers(profile.get(key), where, key), dtype=np.float64)
        if np.any(np.diff(values) < 0):
            raise _fail(where, f"{key} is not in increasing order")
    pairs = (("psi_counts", "psi_edges", 1), ("display_counts", "display_edges", -1),
             ("grid_counts", "grid", 0))  # fmt: skip
    for counts, edges, extra in pairs:
        if (
            len(_numbers(profile.get(counts), where, counts, counts=True))
            != len(profile[edges]) + extra
        ):
            raise _fail(where, f"{counts} does not fit {edges}")
    if not profile["grid"]:
        raise _fail(where, "the sample grid is empty")


def check_profile(profile: Any, where: str) -> dict[str, Any]:
    """``profile`` if it is a well-formed reference profile; else a one-line error."""
    if not isinstance(profile, dict) or not isinstance(profile.get("features"), dict):
        raise _fail(where, "not a reference profile (no features)")
    for key in ("rows", "sample_rows"):
        _numbers([profile.get(key)], where, key, counts=True)
    if not isinstance(profile.get("columns"), list) or not all(
        isinstance(name, str) for name in profile["columns"]
    ):
        raise _fail(where, "columns is not a list of names")
    if not isinstance(profile.get("dataset"), str) or not isinstance(profile.get("image"), bool):
        raise _fail(where, "dataset or image is missing")
    for name, feature in profile["features"].items():
        place = f"{where}: feature {name!r}"
        if not isinstance(feature, dict):
            raise _fail(place, "not an object")
        _numbers([feature.get("rows"), feature.get("missing")], place, "rows", counts=True)
        if feature.get("kind") == "number":
            _check_number(feature, place)
            span = feature.get("dictionary_range")
            if span is not None and (not isinstance(span, list) or len(span) != 2):
                raise _fail(place, "dictionary_range is not [low, high]")
        elif feature.get("kind") == "category":
            categories = feature.get("categories")
            if not isinstance(categories, dict) or not all(isinstance(k, str) for k in categories):
                raise _fail(place, "categories is not an object of counts")
            _numbers([*categories.values(), feature.get("other")], place, "counts", counts=True)
        else:
            raise _fail(place, f"kind {feature.get('kind')!r} is neither number nor category")
    return profile


def _read_entry(path: Path, name: str, expected: str, limit: int) -> bytes:
    from modeldesk.release.verify_bundle import Refused, read_entries, stream_entry

    with open(path, "rb") as handle:
        entries = read_entries(handle, os.fstat(handle.fileno()).st_size)
        found = [entry for entry in entries if entry.name == name]
        if not found or found[0].size > limit:
            raise Refused(f"{name} is missing or over {limit:,} bytes")
        buffer = io.BytesIO()
        digest = stream_entry(handle, found[0], buffer, check_crc=False)
    if digest != expected:  # the file changed between verifying and reading it
        raise Refused(f"{name} does not match its signed digest")
    return buffer.getvalue()


def bundle_reference(catalog: Catalog, bundle: Path, model: ModelVersion) -> BundledReference:
    """The reference profile and sample bundle ``bundle`` carries for ``model``: verified
    with the keys this catalog trusts, and checked to be of this model's content."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from modeldesk.release.bundle import catalog_keys, refusal_here
    from modeldesk.release.verify_bundle import Refused, Usage, read_manifest, verify_bundle

    bundle = Path(bundle)
    try:
        manifest = read_manifest(bundle)
        # Expiry limits installing a bundle on a device, not reading what an old release
        # was trained on: verify it as of when it was packaged (keys and digests hold).
        made = dt.datetime.fromisoformat(str(manifest.get("created_at")).replace("Z", "+00:00"))
        verified = verify_bundle(bundle, catalog_keys(catalog), now=made)
        if verified.model_sha256 != model.sha256:
            raise Refused(
                f"it is {verified.model}@{verified.version} ({verified.model_sha256[:16]}…), "
                f"not {model.ref} ({model.sha256[:16]}…)"
            )
        if REFERENCE_PROFILE not in verified.files:
            raise Refused("it carries no reference profile (packaged before they were added)")
        data = _read_entry(bundle, REFERENCE_PROFILE, verified.files[REFERENCE_PROFILE],
                           MAX_PROFILE_BYTES)  # fmt: skip
        sample_bytes = _read_entry(bundle, REFERENCE_SAMPLE, verified.files[REFERENCE_SAMPLE],
                                   MAX_SAMPLE_BYTES)  # fmt: skip
    except (Refused, Usage, ValueError) as error:
        raise BadInputError(f"--bundle {bundle.name}: refused ({refusal_here(error)})") from None
    where = f"--bundle {bundle.name}: {REFERENCE_PROFILE}"
    try:
        profile = check_profile(json.loads(data), where)
    except ValueError as error:
        raise _fail(where, f"not JSON ({error})") from None
    try:
        sample = pq.read_table(pa.BufferReader(sample_bytes))
    except (pa.ArrowException, OSError) as error:
        where = f"--bundle {bundle.name}: {REFERENCE_SAMPLE}"
        raise _fail(where, f"unreadable ({error})") from None
    lacking = [name for name in profile["columns"] if name not in sample.column_names]
    if lacking:
        raise _fail(f"--bundle {bundle.name}: {REFERENCE_SAMPLE}", f"lacks column {lacking[0]!r}")
    digest = hashlib.sha256(data).hexdigest()[:12]
    return BundledReference(profile, sample, f"bundle {bundle.name} (profile {digest})")

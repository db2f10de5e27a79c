"""Suites and validation runs in the catalog: versioned suite texts, runs as evidence."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from modeldesk.catalog.names import normalise_name, parse_ref
from modeldesk.catalog.records import SUITE, get_or_create_record, version_for
from modeldesk.catalog.store import Catalog
from modeldesk.errors import BadInputError, NotFoundError
from modeldesk.validate.result import ValidationRun
from modeldesk.validate.suite import MAX_SUITE_BYTES, Suite, SuiteError, parse_suite

__all__ = [
    "StoredSuite",
    "add_suite",
    "adopt_run",
    "get_suite",
    "list_suites",
    "list_validation_runs",
    "read_suite_file",
    "record_run",
    "validation_run",
]


@dataclass(frozen=True)
class StoredSuite:
    """A suite version in the catalog, parsed."""

    id: int
    name: str
    version: int
    sha256: str
    source_name: str
    created_at: str
    created_by: str
    suite: Suite

    @property
    def ref(self) -> str:
        """``NAME@V``."""
        return f"{self.name}@{self.version}"


def read_suite_file(path: Path) -> str:
    """A suite file's text: refused when missing, too large or not UTF-8."""
    try:
        size = path.stat().st_size
        if size > MAX_SUITE_BYTES:
            raise SuiteError(f"{path}: larger than {MAX_SUITE_BYTES >> 10} KiB; a suite is text")
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFoundError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise SuiteError(f"{path}: not UTF-8 text") from None
    except OSError as error:
        raise BadInputError(f"{path}: cannot be read ({error.strerror})") from None


def _stored(catalog: Catalog, row) -> StoredSuite:
    where = f"suite {row['name']}@{row['version']}"
    return StoredSuite(
        id=row["id"],
        name=row["name"],
        version=row["version"],
        sha256=row["sha256"],
        source_name=row["source_name"] or "",
        created_at=row["created_at"],
        created_by=row["created_by"] or "",
        suite=parse_suite(row["text"], path=where),
    )


def add_suite(
    catalog: Catalog, text: str, *, source_name: str = "", version: int | None = None
) -> tuple[StoredSuite, bool]:
    """Store a suite's text as the next version of its name (checked first).

    Text identical to the newest version of the name returns that version, created
    False. The model the suite names must exist. A ``version`` (a suite brought from
    another catalog keeps its number) holding this text is returned as it is; holding
    other text, it is refused.
    """
    suite = parse_suite(text, path=source_name or "suite")
    name = normalise_name(suite.name, what="suite name")
    model = normalise_name(suite.model, what="model name")
    if not catalog.query("SELECT 1 FROM model WHERE name = ?", (model,)):
        raise NotFoundError(f"{source_name or 'suite'}: model {model!r} is not in the catalog")
    rows = catalog.query(
        "SELECT v.*, s.name AS name FROM suite_version v JOIN suite s ON s.id = v.suite_id "
        "WHERE s.name = ? AND (? IS NULL OR v.version = ?) ORDER BY v.version DESC LIMIT 1",
        (name, version, version),
    )
    if rows and rows[0]["sha256"] == suite.sha256:
        return _stored(catalog, rows[0]), False
    with catalog.write("suite.add", f"suite {name}") as tx:
        suite_id = get_or_create_record(tx.conn, SUITE, name, tx.at, tx.actor, model_name=model)
        version = version_for(tx.conn, SUITE, suite_id, version)
        cursor = tx.conn.execute(
            "INSERT INTO suite_version (suite_id, version, sha256, text, source_name, created_at,"
            " created_by) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (suite_id, version, suite.sha256, text, source_name, tx.at, tx.actor),
        )
        version_id = int(cursor.lastrowid or 0)
        tx.subject = f"suite {name}@{version}"
        tx.detail = {"name": name, "version": version, "sha256": suite.sha256, "model": model}
    row = catalog.query(
        "SELECT v.*, s.name AS name FROM suite_version v JOIN suite s ON s.id = v.suite_id "
        "WHERE v.id = ?",
        (version_id,),
    )[0]
    return _stored(catalog, row), True


def get_suite(catalog: Catalog, ref: str) -> StoredSuite:
    """The suite version ``NAME@V`` (``NAME``: the newest)."""
    parsed = parse_ref(ref)
    return _stored(catalog, SUITE.find_version_row(catalog, parsed))


def suite_by_version_id(catalog: Catalog, version_id: int) -> StoredSuite:
    """The suite version with this row id."""
    return _stored(catalog, SUITE.version_row_by_id(catalog, version_id))


def list_suites(catalog: Catalog, model: str | None = None) -> list[StoredSuite]:
    """The newest version of every suite (of ``model`` if given), by name."""
    sql = (
        "SELECT v.*, s.name AS name FROM suite_version v JOIN suite s ON s.id = v.suite_id "
        "WHERE v.version = (SELECT MAX(version) FROM suite_version w WHERE w.suite_id = s.id)"
    )
    params: tuple[str, ...] = ()
    if model is not None:
        sql += " AND s.model_name = ?"
        params = (normalise_name(model, what="model name"),)
    return [_stored(catalog, row) for row in catalog.query(sql + " ORDER BY s.name", params)]


def record_run(
    catalog: Catalog,
    run: ValidationRun,
    *,
    suite_version_id: int,
    model_version_id: int,
    dataset_version_id: int,
) -> int:
    """Store a run (its full results as a blob) with its audit row; returns its id."""
    data = json.dumps(run.to_dict(timings=True) | {"id": None}, sort_keys=True).encode("utf-8")
    run_id, at = _insert_run(
        catalog,
        data,
        run.to_dict(timings=True),
        (suite_version_id, model_version_id, dataset_version_id),
    )
    run.id, run.created_at = run_id, at
    return run_id


def adopt_run(
    catalog: Catalog,
    data: bytes,
    *,
    suite_version_id: int,
    model_version_id: int,
    dataset_version_id: int,
) -> tuple[int, bool]:
    """Store a run brought from another catalog (its results, ``data``, byte for byte:
    a release names them by hash); the row's verdict and counts are read from them.
    Returns (run id, created): results already recorded for this version are not
    recorded twice."""
    found = catalog.query(
        "SELECT id FROM validation_run WHERE model_version_id = ? AND results_sha256 = ?",
        (model_version_id, hashlib.sha256(data).hexdigest()),
    )
    if found:
        return int(found[0]["id"]), False
    results = json.loads(data)
    run_id, _ = _insert_run(
        catalog, data, results, (suite_version_id, model_version_id, dataset_version_id)
    )
    return run_id, True


def _insert_run(
    catalog: Catalog, data: bytes, results: dict, ids: tuple[int, int, int]
) -> tuple[int, str]:
    with catalog.blobs.guard():
        results_sha = catalog.blobs.put_bytes(data)
        with catalog.write("validate.run", f"model {results['model']}") as tx:
            cursor = tx.conn.execute(
                "INSERT INTO validation_run (suite_version_id, model_version_id,"
                " dataset_version_id, model_sha256, verdict, counts, rows_predicted,"
                " results_sha256, created_at, created_by, seconds)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    *ids,
                    results["model_sha256"],
                    results["verdict"],
                    json.dumps(results["counts"], sort_keys=True),
                    results["rows_predicted"],
                    results_sha,
                    tx.at,
                    tx.actor,
                    results.get("seconds"),
                ),
            )
            run_id = int(cursor.lastrowid or 0)
            tx.subject = f"model {results['model']}: suite {results['suite']}"
            tx.detail = {
                "run": run_id,
                "suite": results["suite"],
                "model": results["model"],
                "verdict": results["verdict"],
                "counts": results["counts"],
                "results_sha256": results_sha,
            }
    return run_id, tx.at


def list_validation_runs(
    catalog: Catalog, model_name: str, *, suite_name: str | None = None
) -> list[dict]:
    """Recorded runs of a model's versions (of one suite if given), newest first."""
    sql = (
        "SELECT r.id, r.verdict, r.counts, r.created_at, r.created_by, r.seconds,"
        " r.rows_predicted, m.name || '@' || mv.version AS model,"
        " s.name || '@' || sv.version AS suite, mv.version AS model_version"
        " FROM validation_run r"
        " JOIN model_version mv ON mv.id = r.model_version_id JOIN model m ON m.id = mv.model_id"
        " JOIN suite_version sv ON sv.id = r.suite_version_id JOIN suite s ON s.id = sv.suite_id"
        " WHERE m.name = ?"
    )
    params: list[str] = [normalise_name(model_name, what="model name")]
    if suite_name is not None:
        sql += " AND s.name = ?"
        params.append(normalise_name(suite_name, what="suite name"))
    rows = catalog.query(sql + " ORDER BY r.id DESC", tuple(params))
    return [dict(row) | {"counts": json.loads(row["counts"])} for row in rows]


def validation_run(catalog: Catalog, run_id: int) -> dict:
    """A recorded run's full results (the JSON ``modeldesk validate --json`` prints)."""
    rows = catalog.query("SELECT results_sha256, id FROM validation_run WHERE id = ?", (run_id,))
    if not rows:
        raise NotFoundError(f"validation run #{run_id}: not in the catalog")
    return json.loads(catalog.blobs.read_bytes(rows[0]["results_sha256"])) | {"id": run_id}

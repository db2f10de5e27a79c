"""A check's evidence as a table of dataset rows: what the Validate tab lists when a
check did not pass, one row per dataset row (its row number first, so it can be
explained), whatever the kind of check."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["EvidenceTable", "evidence_table"]


@dataclass
class EvidenceTable:
    """Rows of evidence; ``row_ids`` are dataset row numbers (None: not a data row)."""

    headers: list[str]
    rows: list[list[Any]] = field(default_factory=list)
    row_ids: list[int | None] = field(default_factory=list)
    note: str = ""

    def add(self, row_id: int | None, *values: Any) -> None:
        """One evidence row."""
        self.row_ids.append(row_id)
        self.rows.append([row_id if row_id is not None else "", *values])


def _change_rows(evidence: dict, table: EvidenceTable, flipped: bool) -> None:
    for item in evidence.get("rows", []):
        extra = [item.get("flipped", False)] if flipped else []
        change = item["after"] - item["before"]
        table.add(item["row"], item["before"], item["after"], change, *extra)


def evidence_table(check: dict[str, Any]) -> EvidenceTable:
    """The evidence of one check (its JSON form, as a run records it) as a table."""
    kind, evidence = check.get("kind", ""), check.get("evidence") or {}
    if kind == "metric":
        rows = evidence.get("rows", [])
        regression = bool(rows) and "error" in rows[0]
        headers = ["row", "actual", "predicted"] + (["error"] if regression else [])
        table = EvidenceTable(headers, note="rows the model got wrong" if rows else "")
        if regression:
            table.note = "rows with the largest errors"
        for item in rows:
            values = [item["actual"], item["predicted"]] + ([item["error"]] if regression else [])
            table.add(item["row"], *values)
        return table
    if kind == "slices":
        table = EvidenceTable(["row", "slice", "slice rows", "slice value"])
        for failing in evidence.get("failing", []):
            for row in failing["row_ids"]:
                table.add(row, failing["slice"], failing["rows"], failing["value"])
        table.note = "rows of the slices that did not hold" if table.rows else ""
        return table
    if kind == "champion":
        baseline = evidence.get("baseline")
        table = EvidenceTable(["row"], note=f"rows where it and {baseline} disagree")
        for row in evidence.get("disagreeing_rows", []):
            table.add(row)
        return table
    if kind in ("invariance", "direction"):
        output = evidence.get("output", "")
        headers = ["row", f"{output} before", f"{output} after", "change"]
        table = EvidenceTable(headers + (["flipped"] if kind == "invariance" else []))
        _change_rows(evidence, table, flipped=kind == "invariance")
        table.note = (
            "rows that moved most under the perturbation"
            if kind == "invariance"
            else "rows that broke the expectation"
        )
        return table
    if kind == "parity":
        table = EvidenceTable(
            ["row", "largest |difference|"], note=f"against {evidence.get('reference')}"
        )
        for item in evidence.get("worst", []):
            table.add(item["row"], item["abs_diff"])
        return table
    if kind == "data":
        table = EvidenceTable(["row", "column", "problem"])
        for column in evidence.get("missing_columns", []):
            table.add(None, column, "missing from the dataset")
        for problem, label in (("outside", "outside its range"), ("not_allowed", "not allowed")):
            for column, rows in (evidence.get(problem) or {}).items():
                for row in rows:
                    table.add(row, column, label)
        for column, share in (evidence.get("missing_share") or {}).items():
            table.add(None, column, f"{share:.1%} missing")
        return table
    if kind == "contract":
        table = EvidenceTable(
            ["", "side", "name", "change", "breaking", "why"],
            note=f"against {evidence.get('baseline')}",
        )
        for change in evidence.get("changes", []):
            table.add(
                None, change["side"], change["name"], change["change"], change["breaking"],
                change["reason"],
            )  # fmt: skip
        return table
    table = EvidenceTable(["", "field", "value"])
    for name, value in evidence.items():
        table.add(None, name, value)
    return table

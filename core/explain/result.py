"""An explanation's values and how they are written (Parquet for the cache and ``--out``)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["Explanation", "column_name", "newest_explanation"]


def column_name(name: str, output: str, outputs: int) -> str:
    """``name`` for single-output models, ``name[output]`` when there are several."""
    return name if outputs == 1 else f"{name}[{output}]"


@dataclass
class Explanation:
    """SHAP values of one model version on some rows of one dataset version."""

    model: str
    dataset: str
    method: str  # the method that ran: tree, permutation, kernel or partition
    perturbation: str  # interventional / path-dependent (tree), or what the masker did
    space: str  # what the values add up to, e.g. "margin (log-odds)" or "probability"
    feature_names: list[str]
    output_names: list[str]
    rows: np.ndarray  # dataset row numbers explained
    values: np.ndarray  # rows x features x outputs
    base_values: np.ndarray  # rows x outputs
    data: np.ndarray  # rows x features: the feature values explained
    background_rows: int = 0
    seed: int = 0
    seconds: float = 0.0
    model_seconds: float = 0.0  # of ``seconds``, how long the model itself ran (agnostic)
    cached: bool = False
    workers: int = 0  # worker processes that computed the values (0: the calling process)
    notes: list[str] = field(default_factory=list)

    @property
    def outputs(self) -> int:
        """How many outputs (classes or targets) have their own values."""
        return self.values.shape[2]

    def output_index(self, output: str | int | None) -> int:
        """The position of an output given by name or index (default: the last, class 1)."""
        if output is None:
            return self.outputs - 1 if self.outputs == 2 else 0
        if isinstance(output, int):
            return output
        return self.output_names.index(output)

    def mean_abs(self, output: int | None = None) -> np.ndarray:
        """Mean |SHAP| per feature: of one output, or summed over outputs."""
        magnitude = np.abs(self.values)
        if output is None:
            return magnitude.mean(axis=0).sum(axis=1)
        return magnitude[:, :, output].mean(axis=0)

    def importance(self, output: str | int | None = None) -> list[tuple[str, float]]:
        """Features by mean |SHAP| of one output (by name or index; default as
        :meth:`output_index`), largest first."""
        magnitude = self.mean_abs(self.output_index(output))
        ranked = sorted(
            zip(self.feature_names, magnitude.tolist(), strict=True), key=lambda x: -x[1]
        )
        return [(name, float(value)) for name, value in ranked]

    def predictions(self) -> np.ndarray:
        """What the values add up to, per row and output (base + sum of values)."""
        return self.base_values + self.values.sum(axis=1)

    def summary(self) -> dict[str, Any]:
        """A JSON-friendly digest: settings and the global importance per output."""
        importance = {
            output: dict(
                sorted(
                    zip(self.feature_names, self.mean_abs(i).round(8).tolist(), strict=True),
                    key=lambda item: -item[1],
                )
            )
            for i, output in enumerate(self.output_names)
        }
        return {
            "model": self.model,
            "dataset": self.dataset,
            "method": self.method,
            "perturbation": self.perturbation,
            "space": self.space,
            "rows": len(self.rows),
            "first_row": int(self.rows[0]) if len(self.rows) else None,
            "last_row": int(self.rows[-1]) if len(self.rows) else None,
            "background_rows": self.background_rows,
            "seed": self.seed,
            "outputs": self.output_names,
            "base_value": {
                output: float(self.base_values[:, i].mean()) if len(self.rows) else None
                for i, output in enumerate(self.output_names)
            },
            "mean_abs_shap": importance,
            "seconds": round(self.seconds, 3),
            "model_seconds": round(self.model_seconds, 3),
            "cached": self.cached,
            "workers": self.workers,
            "notes": self.notes,
        }

    # -- tables ------------------------------------------------------------------
    def values_table(self) -> Any:
        """One column per feature (per output), then the base value(s); a row per row."""
        import pyarrow as pa

        columns: dict[str, Any] = {}
        count = self.outputs
        for o, output in enumerate(self.output_names):
            for f, feature in enumerate(self.feature_names):
                columns[column_name(feature, output, count)] = self.values[:, f, o]
        for o, output in enumerate(self.output_names):
            columns[column_name("base_value", output, count)] = self.base_values[:, o]
        return pa.table(columns)

    def write(self, path: Path) -> None:
        """Write the values table to ``path`` (Parquet, or CSV by extension).

        Written beside ``path`` and renamed into place, so the file is never seen half
        written (a reader waiting for it, or a crash mid-write, finds it whole or absent).
        """
        import os
        import tempfile

        import pyarrow.csv as pcsv
        import pyarrow.parquet as pq

        table = self.values_table()
        handle, partial = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        os.close(handle)
        try:
            if path.suffix.lower() == ".csv":
                pcsv.write_csv(table, partial)
            else:
                pq.write_table(table, partial)
            os.replace(partial, path)
        except BaseException:
            Path(partial).unlink(missing_ok=True)
            raise

    def to_bytes(self) -> bytes:
        """The whole explanation as Parquet (values, base values, feature values, rows)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = self.values_table()
        table = table.append_column("__row", pa.array(self.rows, pa.int64()))
        for f, feature in enumerate(self.feature_names):
            table = table.append_column(f"__x[{feature}]", pa.array(self.data[:, f]))
        meta = {
            "model": self.model,
            "dataset": self.dataset,
            "method": self.method,
            "perturbation": self.perturbation,
            "space": self.space,
            "feature_names": self.feature_names,
            "output_names": self.output_names,
            "background_rows": self.background_rows,
            "seed": self.seed,
            "seconds": self.seconds,
            "model_seconds": self.model_seconds,
            "workers": self.workers,
            "notes": self.notes,
        }
        table = table.replace_schema_metadata({"modeldesk": json.dumps(meta)})
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, compression="zstd")
        return sink.getvalue().to_pybytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> Explanation:
        """Read what :meth:`to_bytes` wrote."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pq.read_table(pa.BufferReader(data))
        meta = json.loads(table.schema.metadata[b"modeldesk"])
        features, outputs = meta["feature_names"], meta["output_names"]
        count = len(outputs)

        def column(name: str) -> np.ndarray:
            return np.asarray(table.column(name).to_numpy(), dtype=np.float64)

        values = np.stack(
            [
                np.column_stack([column(column_name(f, o, count)) for f in features])
                for o in outputs
            ],
            axis=2,
        )
        base = np.column_stack([column(column_name("base_value", o, count)) for o in outputs])
        data_matrix = np.column_stack([column(f"__x[{f}]") for f in features])
        return cls(
            model=meta["model"],
            dataset=meta["dataset"],
            method=meta["method"],
            perturbation=meta["perturbation"],
            space=meta["space"],
            feature_names=features,
            output_names=outputs,
            rows=np.asarray(table.column("__row").to_numpy(), dtype=np.int64),
            values=values,
            base_values=base,
            data=data_matrix,
            background_rows=meta["background_rows"],
            seed=meta["seed"],
            seconds=meta["seconds"],
            model_seconds=meta.get("model_seconds", 0.0),
            cached=True,
            workers=int(meta.get("workers", 0)),
            notes=list(meta.get("notes", [])),
        )


def newest_explanation(catalog: Any, model_version_id: int) -> Explanation | None:
    """The newest stored explanation of a model version, if one was computed."""
    from modeldesk.catalog.derived import list_derived, load_derived

    for entry in list_derived(catalog, "explanation", model_version_id):
        data = load_derived(catalog, entry.key)
        if data is not None:
            return Explanation.from_bytes(data)
    return None

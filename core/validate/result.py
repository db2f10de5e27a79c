"""What a validation run found: a verdict per check, with its value, interval and evidence."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from modeldesk.validate.stats import FAIL, INCONCLUSIVE, PASS, Interval

__all__ = ["ERROR", "SKIPPED", "CheckResult", "ValidationRun", "overall_verdict"]

ERROR = "ERROR"  # the check could not run (a missing bench run, a model that fails)
SKIPPED = "SKIPPED"  # inconclusive under on_inconclusive = "skip"
VERDICTS = (PASS, FAIL, INCONCLUSIVE, ERROR, SKIPPED)


@dataclass
class CheckResult:
    """The outcome of one check."""

    id: str
    kind: str
    verdict: str  # PASS, FAIL, INCONCLUSIVE, ERROR or SKIPPED
    message: str  # one line: measured value, interval, threshold
    value: float | None = None
    interval: Interval | None = None
    threshold: str = ""  # ">= 0.93", "<= 12 ms", "compatible"
    rows: int = 0  # rows the verdict rests on
    rows_to_decide: int | None = None  # for INCONCLUSIVE: rows that would decide it
    dataset: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self, *, timings: bool = True) -> dict[str, Any]:
        """The JSON form (``timings=False`` leaves out what differs between reruns)."""
        data: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "verdict": self.verdict,
            "message": self.message,
            "value": self.value,
            "interval": None if self.interval is None else self.interval.to_dict(),
            "threshold": self.threshold,
            "rows": self.rows,
            "rows_to_decide": self.rows_to_decide,
            "dataset": self.dataset,
            "evidence": self.evidence,
        }
        if timings:
            data["seconds"] = round(self.seconds, 6)
        return data


def overall_verdict(results: list[CheckResult], on_inconclusive: str) -> str:
    """FAIL if any check failed or errored (or was inconclusive under ``fail``), else PASS."""
    for result in results:
        if result.verdict in (FAIL, ERROR):
            return FAIL
        if result.verdict == INCONCLUSIVE and on_inconclusive == "fail":
            return FAIL
    return PASS


@dataclass
class ValidationRun:
    """A suite version run on one model version: every check's result and the inputs."""

    suite: str  # NAME@V, or the file's path for an unstored suite
    suite_sha256: str
    model: str
    model_sha256: str
    dataset: str
    datasets: dict[str, str]  # DATA@V -> content hash, every dataset a check read
    verdict: str
    on_inconclusive: str
    seed: int
    results: list[CheckResult]
    rows_predicted: int
    runtimes: dict[str, str]  # modeldesk, onnxruntime versions
    id: int = 0  # the catalog record (0: not recorded)
    created_at: str = ""
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        """Whether the run passed as a whole."""
        return self.verdict == PASS

    def counts(self) -> dict[str, int]:
        """How many checks ended in each verdict."""
        return {verdict: sum(r.verdict == verdict for r in self.results) for verdict in VERDICTS}

    def to_dict(self, *, timings: bool = True) -> dict[str, Any]:
        """The JSON form; without timings it is identical for identical inputs."""
        data: dict[str, Any] = {
            "suite": self.suite,
            "suite_sha256": self.suite_sha256,
            "model": self.model,
            "model_sha256": self.model_sha256,
            "dataset": self.dataset,
            "datasets": dict(sorted(self.datasets.items())),
            "verdict": self.verdict,
            "on_inconclusive": self.on_inconclusive,
            "seed": self.seed,
            "counts": self.counts(),
            "rows_predicted": self.rows_predicted,
            "runtimes": self.runtimes,
            "checks": [result.to_dict(timings=timings) for result in self.results],
        }
        if timings:
            data |= {"id": self.id, "created_at": self.created_at, "seconds": self.seconds}
        return data

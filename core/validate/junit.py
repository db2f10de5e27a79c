"""JUnit XML of a validation run, as Jenkins and GitLab read it.

One ``<testsuite>`` per run inside ``<testsuites>``; one ``<testcase>`` per check with
``name`` the check id and ``classname`` the model version; ``<failure>`` for FAIL (and
for INCONCLUSIVE when the run treats it as a failure), ``<error>`` for a check that
could not run, ``<skipped>`` for INCONCLUSIVE under ``skip``; ``time`` in seconds.
A failing check's evidence is written beside the XML and its path put in the body.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from modeldesk.validate.result import ERROR, SKIPPED, ValidationRun
from modeldesk.validate.stats import FAIL, INCONCLUSIVE

__all__ = ["evidence_folder", "junit_xml", "write_junit"]


def evidence_folder(junit_path: Path) -> Path:
    """Where a run's evidence files go: ``report.xml`` -> ``report.evidence/``."""
    return junit_path.with_name(junit_path.stem + ".evidence")


def _seconds(value: float, timings: bool) -> str:
    return f"{value:.3f}" if timings else "0"


def junit_xml(
    run: ValidationRun,
    *,
    evidence: dict[str, Path] | None = None,
    timestamp: str = "",
    timings: bool = True,
) -> bytes:
    """The run as JUnit XML (UTF-8 bytes); ``evidence`` maps check ids to evidence files."""
    evidence = evidence or {}
    counted = {
        "tests": len(run.results),
        "failures": sum(
            r.verdict == FAIL or (r.verdict == INCONCLUSIVE and run.on_inconclusive == "fail")
            for r in run.results
        ),
        "errors": sum(r.verdict == ERROR for r in run.results),
        "skipped": sum(r.verdict == SKIPPED for r in run.results),
    }
    total = _seconds(sum(r.seconds for r in run.results), timings)
    root = ET.Element(
        "testsuites",
        {"name": "modeldesk validate", **{k: str(v) for k, v in counted.items()}, "time": total},
    )
    suite = ET.SubElement(
        root,
        "testsuite",
        {
            "name": run.suite,
            **{k: str(v) for k, v in counted.items()},
            "time": total,
            **({"timestamp": timestamp} if timestamp else {}),
        },
    )
    properties = ET.SubElement(suite, "properties")
    for name, value in (
        ("model", run.model),
        ("model_sha256", run.model_sha256),
        ("suite_sha256", run.suite_sha256),
        ("dataset", run.dataset),
        ("verdict", run.verdict),
        ("on_inconclusive", run.on_inconclusive),
        ("rows_predicted", str(run.rows_predicted)),
        *((f"dataset_sha256[{ref}]", sha) for ref, sha in sorted(run.datasets.items())),
    ):
        ET.SubElement(properties, "property", {"name": name, "value": value})
    for result in run.results:
        case = ET.SubElement(
            suite,
            "testcase",
            {"name": result.id, "classname": run.model, "time": _seconds(result.seconds, timings)},
        )
        body = result.message
        if result.id in evidence:
            body += f"\nevidence: {evidence[result.id]}"
        failed = result.verdict == FAIL or (
            result.verdict == INCONCLUSIVE and run.on_inconclusive == "fail"
        )
        if failed:
            element = ET.SubElement(
                case, "failure", {"message": result.message, "type": result.verdict}
            )
            element.text = body
        elif result.verdict == ERROR:
            element = ET.SubElement(case, "error", {"message": result.message, "type": ERROR})
            element.text = body
        elif result.verdict == SKIPPED:
            ET.SubElement(case, "skipped", {"message": result.message})
        else:
            ET.SubElement(case, "system-out").text = body
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def write_junit(run: ValidationRun, path: Path, *, timestamp: str = "") -> Path:
    """Write the JUnit XML to ``path`` and each failing check's evidence beside it."""
    folder = evidence_folder(path)
    written: dict[str, Path] = {}
    for result in run.results:
        if result.verdict in (FAIL, INCONCLUSIVE, ERROR) and result.evidence:
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / f"{result.id}.json"
            data = result.to_dict(timings=False)
            target.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
            written[result.id] = target
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(junit_xml(run, evidence=written, timestamp=timestamp))
    return path

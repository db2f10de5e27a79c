"""Validation runs on the demo catalog's real models: verdicts, evidence, records, JUnit."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from modeldesk.debug.predict import predict
from modeldesk.errors import BadInputError, NotFoundError
from modeldesk.validate.checks_static import EVIDENCE_ROWS
from modeldesk.validate.junit import junit_xml
from modeldesk.validate.registry import add_suite, list_validation_runs, validation_run
from modeldesk.validate.run import run_suite
from modeldesk.validate.suite import SuiteError

from helpers import catalog_snapshot

HEAD = """[suite]
name = "gate"
model = "breast-cancer"
dataset = "breast-cancer-test@1"
"""

EVERY_KIND = (
    HEAD
    + """
[[check]]
id = "accuracy"
kind = "metric"
metric = "accuracy"
min = 0.90

[[check]]
id = "recall-malignant"
kind = "metric"
metric = "recall[malignant]"
min = 0.8
where = "mean radius > 10"

[[check]]
id = "slices"
kind = "slices"
column = "mean radius"
metric = "accuracy"
min = 0.7
bins = 4
min_rows = 20

[[check]]
id = "champion"
kind = "champion"
baseline = "previous"
metric = "accuracy"
margin = 0.05
per_slice_column = "mean texture"
bins = 2

[[check]]
id = "noise"
kind = "invariance"
columns = ["mean texture"]
perturbation = "noise"
scale = 0.05
max_flip_rate = 0.1

[[check]]
id = "direction"
kind = "direction"
column = "worst concave points"
step = 0.05
expect = "decrease"
output = "benign"
min_share = 0.5

[[check]]
id = "parity"
kind = "parity"
reference = "breast-cancer@2"
max_flip_rate = 0.2

[[check]]
id = "contract"
kind = "contract"
baseline = "previous"

[[check]]
id = "data"
kind = "data"
required_columns = ["mean radius", "diagnosis"]
ranges = { "mean radius" = [5, 30] }
allowed = { diagnosis = [0, 1] }
"""
)


def _suite(demo, text, name="gate.toml"):
    stored, _ = add_suite(demo, text, source_name=name)
    return stored


def test_a_suite_of_every_kind_runs_once_per_prediction_and_is_recorded(demo):
    stored = _suite(demo, EVERY_KIND)
    run = run_suite(demo, stored, "breast-cancer@3")
    verdicts = {result.id: result.verdict for result in run.results}
    assert list(verdicts) == [check.id for check in stored.suite.checks]
    assert set(verdicts.values()) <= {"PASS", "FAIL", "INCONCLUSIVE"}
    assert verdicts["contract"] == "PASS" and verdicts["data"] == "PASS"
    # Each model predicts the dataset once (this version, the champion's and parity's
    # baseline @2), plus the rows the invariance and direction checks changed.
    rows = 171
    assert run.rows_predicted == 2 * rows + rows + rows
    assert run.datasets == {"breast-cancer-test@1": demo_dataset_sha(demo)}
    recorded = list_validation_runs(demo, "breast-cancer")
    assert [r["id"] for r in recorded] == [run.id] and recorded[0]["verdict"] == run.verdict
    assert validation_run(demo, run.id)["checks"] == [result.to_dict() for result in run.results]
    audit = demo.query("SELECT action, subject FROM audit ORDER BY id DESC LIMIT 1")[0]
    assert (audit["action"], audit["subject"]) == (
        "validate.run",
        "model breast-cancer@3: suite gate@1",
    )


def demo_dataset_sha(demo) -> str:
    return demo.query(
        "SELECT v.sha256 FROM dataset_version v JOIN dataset d ON d.id = v.dataset_id "
        "WHERE d.name = 'breast-cancer-test'"
    )[0]["sha256"]


def test_rerunning_an_unchanged_suite_gives_identical_json_and_junit(demo):
    stored = _suite(demo, EVERY_KIND)
    first = run_suite(demo, stored, "breast-cancer@3")
    second = run_suite(demo, stored, "breast-cancer@3")
    assert first.id != second.id
    assert json.dumps(first.to_dict(timings=False)) == json.dumps(second.to_dict(timings=False))
    assert junit_xml(first, timings=False) == junit_xml(second, timings=False)
    # A different seed in the suite gives different resamples.
    reseeded = run_suite(
        demo,
        _suite(demo, EVERY_KIND.replace('dataset = "breast', 'seed = 1\ndataset = "breast')),
        "breast-cancer@3",
    )
    # (an accuracy's interval edges sit on a lattice of k/171, so compare every check)
    assert reseeded.to_dict(timings=False)["checks"] != first.to_dict(timings=False)["checks"]


def _metric_suite(threshold: str) -> str:
    return (
        HEAD
        + f"""
[[check]]
id = "accuracy"
kind = "metric"
metric = "accuracy"
{threshold}
"""
    )


def test_a_verdict_comes_from_where_the_interval_lies(demo):
    truth = predict(demo, "breast-cancer@3", "breast-cancer-test@1")
    accuracy = float((truth.predicted == truth.y_true).mean())
    probe = run_suite(demo, _suite(demo, _metric_suite("min = 0.5")), "breast-cancer@3")
    (result,) = probe.results
    assert result.value == pytest.approx(accuracy)
    low, high = result.interval.low, result.interval.high
    assert low < accuracy < high and result.verdict == "PASS"
    failing = run_suite(
        demo, _suite(demo, _metric_suite(f"min = {high + 0.001}")), "breast-cancer@3"
    )
    assert failing.results[0].verdict == "FAIL" and failing.verdict == "FAIL"
    middle = _suite(demo, _metric_suite(f"min = {accuracy - 0.005}"))
    undecided = run_suite(demo, middle, "breast-cancer@3")
    assert undecided.results[0].verdict == "INCONCLUSIVE" and undecided.verdict == "FAIL"
    assert undecided.results[0].rows_to_decide > 171
    assert "rows would decide it" in undecided.results[0].message
    skipped = run_suite(demo, middle, "breast-cancer@3", on_inconclusive="skip")
    assert skipped.results[0].verdict == "SKIPPED" and skipped.verdict == "PASS"
    assert run_suite(demo, middle, "breast-cancer@3", on_inconclusive="pass").verdict == "PASS"


def test_a_data_check_names_the_values_and_rows_outside_its_allowed_lists(demo):
    suite = """[suite]
name = "allowed"
model = "breast-cancer"
dataset = "breast-cancer-test@1"

[[check]]
id = "only-benign"
kind = "data"
allowed = { diagnosis = [1], "mean radius" = ["not a number"] }
"""
    table = predict(demo, "breast-cancer@3", "breast-cancer-test@1").table
    labels = np.asarray(table.column("diagnosis").to_numpy(), dtype=np.float64)
    (result,) = run_suite(demo, _suite(demo, suite), "breast-cancer@3", record=False).results
    assert result.verdict == "FAIL"
    malignant = int((labels == 0).sum())
    assert f"{malignant} row(s) of 'diagnosis' hold other values (0)" in result.message
    shown = np.flatnonzero(labels == 0)[:EVIDENCE_ROWS].tolist()
    assert result.evidence["not_allowed"]["diagnosis"] == shown
    # Numbers are compared as they are shown ("%g"): every radius is another value.
    assert f"{len(labels)} row(s) of 'mean radius' hold other values" in result.message


def test_champion_is_a_paired_comparison_on_the_same_rows(demo):
    text = (
        HEAD
        + """
[[check]]
id = "champion"
kind = "champion"
baseline = "breast-cancer@1"
metric = "accuracy"
margin = 0.02
"""
    )
    run = run_suite(demo, _suite(demo, text), "breast-cancer@3")
    (result,) = run.results
    new = predict(demo, "breast-cancer@3", "breast-cancer-test@1")
    old = predict(demo, "breast-cancer@1", "breast-cancer-test@1")
    new_right, old_right = new.predicted == new.y_true, old.predicted == old.y_true
    assert result.value == pytest.approx(new_right.mean() - old_right.mean())
    mcnemar = result.evidence["mcnemar"]
    assert mcnemar["only_candidate_right"] == int((new_right & ~old_right).sum())
    assert mcnemar["only_baseline_right"] == int((~new_right & old_right).sum())
    assert result.evidence["disagreements"] == int((new.predicted != old.predicted).sum())
    # Paired: the interval of the difference is narrower than two independent ones would be.
    independent = 1.96 * np.sqrt(new_right.var() / 171 + old_right.var() / 171)
    assert result.interval.half_width < independent


def test_a_regressor_is_validated_with_regression_metrics(demo):
    text = """[suite]
name = "diabetes-gate"
model = "diabetes"
dataset = "diabetes-test@1"

[[check]]
id = "mae"
kind = "metric"
metric = "mae"
max = 80

[[check]]
id = "r2"
kind = "metric"
metric = "r2"
min = 0.0

[[check]]
id = "no-worse"
kind = "champion"
baseline = "previous"
metric = "rmse"
margin = 5

[[check]]
id = "bmi-up"
kind = "direction"
column = "bmi"
step = 0.02
expect = "increase"
min_share = 0.5
"""
    run = run_suite(demo, _suite(demo, text, "diabetes.toml"), "diabetes@3")
    truth = predict(demo, "diabetes@3", "diabetes-test@1")
    assert run.results[0].value == pytest.approx(
        float(np.abs(truth.y_true - truth.predicted).mean())
    )
    assert {result.verdict for result in run.results} <= {"PASS", "FAIL", "INCONCLUSIVE"}


@pytest.mark.parametrize(
    ("check", "problem"),
    [
        ('kind = "metric"\nmetric = "mae"\nmax = 1',
         "metric 'mae' does not fit a classification model"),
        ('kind = "metric"\nmetric = "accuracy"\nmin = 0.5\nwhere = "radius > 1"',
         "dataset breast-cancer-test@1 has no column 'radius'"),
        ('kind = "metric"\nmetric = "accuracy"\nmin = 0.5\ndataset = "nope@1"', "dataset 'nope'"),
        ('kind = "champion"\nbaseline = "breast-cancer@9"\nmetric = "accuracy"\nmargin = 0.1',
         "model breast-cancer@9: no such version"),
        ('kind = "champion"\nbaseline = "approved"\nmetric = "accuracy"\nmargin = 0.1',
         "has no approved release yet"),
        ('kind = "invariance"\ncolumns = ["mean radius"]\nperturbation = "swap"\n'
         'max_flip_rate = 0.1',
         "swap exchanges categories; 'mean radius' is numbers"),
        ('kind = "latency"\nprofile = "no-such-profile"\nbudget_ms = 5', "no-such-profile"),
    ],
)  # fmt: skip
def test_bad_input_is_refused_before_anything_runs_and_nothing_is_recorded(demo, check, problem):
    text = HEAD + f'\n[[check]]\nid = "bad"\n{check}\n'
    stored = _suite(demo, text)
    before = catalog_snapshot(Path(demo.path))
    with pytest.raises((BadInputError, NotFoundError)) as raised:
        run_suite(demo, stored, "breast-cancer@3")
    assert problem in str(raised.value) and "\n" not in str(raised.value)
    after = catalog_snapshot(Path(demo.path))
    assert after == before


def test_a_suite_for_another_model_or_an_unknown_model_is_refused(demo):
    with pytest.raises(NotFoundError, match="model 'nothing' is not in the catalog"):
        add_suite(
            demo,
            HEAD.replace('"breast-cancer"', '"nothing"')
            + '[[check]]\nid = "c"\nkind = "contract"\nbaseline = "previous"\n',
        )
    stored = _suite(demo, EVERY_KIND)
    with pytest.raises(BadInputError, match="validates model 'breast-cancer', not 'diabetes'"):
        run_suite(demo, stored, "diabetes@2")
    with pytest.raises(SuiteError):
        add_suite(demo, "[suite]\nname = 1\n")


def test_suites_are_versioned_and_identical_text_is_one_version(demo):
    first, created = add_suite(demo, EVERY_KIND, source_name="gate.toml")
    again, created_again = add_suite(demo, EVERY_KIND, source_name="gate.toml")
    changed, _ = add_suite(demo, EVERY_KIND.replace("min = 0.90", "min = 0.91"))
    assert (first.ref, created, again.ref, created_again, changed.ref) == (
        "gate@1",
        True,
        "gate@1",
        False,
        "gate@2",
    )


# JUnit as Jenkins (junit plugin) and GitLab (unit test reports) read it: <testsuites> of
# <testsuite name tests failures errors skipped time>, each <testcase name classname
# time> holding at most one of failure/error/skipped (failure and error with a message),
# counts that match the cases, times as decimal seconds.
def _check_junit_structure(xml: bytes) -> ET.Element:
    root = ET.fromstring(xml)
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    for name in ("name", "tests", "failures", "errors", "skipped", "time"):
        assert name in suite.attrib, name
    cases = suite.findall("testcase")
    assert int(suite.get("tests")) == len(cases)
    outcome = {"failure": 0, "error": 0, "skipped": 0}
    for case in cases:
        assert case.get("name") and case.get("classname")
        float(case.get("time"))
        marks = [child for child in case if child.tag in outcome]
        assert len(marks) <= 1
        for mark in marks:
            outcome[mark.tag] += 1
            if mark.tag in ("failure", "error"):
                assert mark.get("message")
        assert {child.tag for child in case} <= {*outcome, "system-out", "system-err"}
    assert int(suite.get("failures")) == outcome["failure"]
    assert int(suite.get("errors")) == outcome["error"]
    assert int(suite.get("skipped")) == outcome["skipped"]
    assert float(suite.get("time")) >= 0
    return suite


def test_the_command_line_runs_a_suite_file_and_writes_junit(demo, run_cli, tmp_path):
    suite_file = tmp_path / "gate.toml"
    strict = EVERY_KIND.replace("min_share = 0.5", "min_share = 0.99")
    suite_file.write_text(strict, encoding="utf-8")
    junit = tmp_path / "reports" / "validate.xml"
    done = run_cli("--catalog", demo.path, "validate", "breast-cancer@3", "--suite", suite_file,
                   "--junit", junit, "--json")  # fmt: skip
    assert done.code == 1, done.err
    run = json.loads(done.out)
    assert run["suite"] == "gate@1" and run["verdict"] == "FAIL"
    suite = _check_junit_structure(junit.read_bytes())
    case = next(c for c in suite.findall("testcase") if c.get("name") == "direction")
    assert case.get("classname") == "breast-cancer@3"
    failure = case.find("failure")
    assert failure is not None and failure.get("type") == "FAIL"
    evidence = Path(failure.text.rsplit("evidence: ", 1)[1])
    assert json.loads(evidence.read_text())["evidence"]["rows"]
    # The stored suite by name, every check decided in its favour: exit 0.
    lenient = EVERY_KIND.replace("min = 0.90", "min = 0.5")
    for old, new in (
        ("min = 0.8", "min = 0.1"),
        ("min = 0.7", "min = 0.1"),
        ("margin = 0.05", "margin = 0.5"),
        ("max_flip_rate = 0.1", "max_flip_rate = 0.9"),
        ("min_share = 0.5", "min_share = 0.01"),
        ("max_flip_rate = 0.2", "max_flip_rate = 0.9"),
    ):
        lenient = lenient.replace(old, new)
    suite_file.write_text(lenient, encoding="utf-8")
    assert run_cli("--catalog", demo.path, "suite", "add", suite_file).code == 0
    passed = run_cli("--catalog", demo.path, "validate", "breast-cancer@3", "--suite", "gate")
    assert passed.code == 0, passed.out
    assert "breast-cancer@3 against gate@2" in passed.out
    listed = json.loads(run_cli("--catalog", demo.path, "suite", "list", "--json").out)
    assert [entry["suite"] for entry in listed if entry["suite"].startswith("gate@")] == ["gate@2"]
    shown = json.loads(run_cli("--catalog", demo.path, "suite", "show", "gate@1", "--json").out)
    assert shown["suite"] == "gate@1" and shown["text"] == strict
    assert [check["id"] for check in shown["checks"]][:2] == ["accuracy", "recall-malignant"]
    bad = tmp_path / "bad.toml"
    bad.write_text(HEAD + '[[check]]\nid = "x"\nkind = "metrik"\n', encoding="utf-8")
    refused = run_cli("--catalog", demo.path, "validate", "breast-cancer@3", "--suite", bad)
    assert refused.code == 2
    assert (
        refused.err.strip()
        == f"error: {bad} line 7: unknown check kind 'metrik'; did you mean 'metric'?"
    )


PARITY = (
    HEAD
    + """
[[check]]
id = "same-as-v1"
kind = "parity"
reference = "breast-cancer@1"
max_flip_rate = 0.0
"""
)


def test_history_and_bisect_follow_the_lineage(demo, run_cli):
    from modeldesk.validate.history import bisect_check, lineage, suite_history

    stored = _suite(demo, PARITY)
    for version in (1, 2, 3):
        run_suite(demo, stored, f"breast-cancer@{version}")
    history = suite_history(demo, "breast-cancer", "gate")
    assert history.versions == ["breast-cancer@1", "breast-cancer@2", "breast-cancer@3"]
    verdicts = [history.verdicts[ref]["same-as-v1"] for ref in history.versions]
    assert verdicts[0] == "PASS" and verdicts[1] == "FAIL"  # v1 is its own reference
    assert [m.ref for m in lineage(demo, "breast-cancer@3")] == history.versions
    before = catalog_snapshot(Path(demo.path))
    found = bisect_check(demo, stored, "breast-cancer@3", "same-as-v1")
    assert (found.first_failing, found.last_passing) == ("breast-cancer@2", "breast-cancer@1")
    assert catalog_snapshot(Path(demo.path)) == before  # bisect records nothing
    shown = run_cli("--catalog", demo.path, "suite", "bisect", "breast-cancer@3",
                    "--suite", "gate", "--check", "same-as-v1")  # fmt: skip
    assert shown.code == 1 and "first fails on breast-cancer@2" in shown.out
    table = run_cli("--catalog", demo.path, "suite", "history", "breast-cancer", "--suite", "gate")
    assert table.code == 0 and "breast-cancer@2" in table.out and "FAIL" in table.out
    with pytest.raises(BadInputError, match="has no check 'nope'"):
        bisect_check(demo, stored, "breast-cancer@3", "nope")


def test_a_proposed_suite_passes_on_the_version_it_came_from(demo, run_cli, tmp_path):
    out = tmp_path / "proposed.toml"
    made = run_cli("--catalog", demo.path, "suite", "propose", "breast-cancer@2",
                   "--dataset", "breast-cancer-test@1", "--out", out)  # fmt: skip
    assert made.code == 0, made.err
    text = out.read_text(encoding="utf-8")
    assert 'name = "breast-cancer-gate"' in text and 'kind = "contract"' in text
    passed = run_cli("--catalog", demo.path, "validate", "breast-cancer@2", "--suite", out)
    assert passed.code == 0, passed.out
    # Refuses to overwrite a file.
    again = run_cli("--catalog", demo.path, "suite", "propose", "breast-cancer@2",
                    "--dataset", "breast-cancer-test@1", "--out", out)  # fmt: skip
    assert again.code == 2 and "exists" in again.err


def test_suite_show_warns_when_a_margin_is_finer_than_the_data(demo, run_cli, tmp_path):
    fine = (
        HEAD
        + """
[[check]]
id = "champion"
kind = "champion"
baseline = "previous"
metric = "accuracy"
margin = 0.01
"""
    )
    _suite(demo, fine)
    shown = run_cli("--catalog", demo.path, "suite", "show", "gate")
    assert shown.code == 0
    (warning,) = [line for line in shown.err.splitlines() if line.startswith("warning:")]
    assert "with 171 rows the accuracy interval is about +-" in warning
    assert "a 1-point margin cannot be verified" in warning


def test_the_demo_catalog_has_a_suite_per_model_and_v3_fails_one_check_for_a_reason(demo):
    from modeldesk.validate.registry import get_suite, list_suites

    assert [s.ref for s in list_suites(demo)] == [
        "breast-cancer-gate@1", "diabetes-gate@1", "digits-gate@1",
    ]  # fmt: skip
    gate = get_suite(demo, "breast-cancer-gate")
    assert run_suite(demo, gate, "breast-cancer@2").verdict == "PASS"
    failing = run_suite(demo, gate, "breast-cancer@3")
    assert [r.id for r in failing.results if r.verdict != "PASS"] == [
        "more-concave-points-less-benign"
    ]
    (broken,) = [r for r in failing.results if r.verdict == "FAIL"]
    assert broken.evidence["rows"] and broken.interval.high < 0.9
    for model, suite in (("diabetes@3", "diabetes-gate"), ("digits@2", "digits-gate")):
        assert run_suite(demo, get_suite(demo, suite), model).verdict == "PASS"


def test_a_suite_file_that_cannot_run_is_not_stored(demo, run_cli, tmp_path):
    suite_file = tmp_path / "gate.toml"
    suite_file.write_text(
        HEAD + '[[check]]\nid = "r"\nkind = "metric"\nmetric = "accuracy"\nmin = 0.5\n'
        'where = "radius > 1"\n',
        encoding="utf-8",
    )
    before = catalog_snapshot(Path(demo.path))
    done = run_cli("--catalog", demo.path, "validate", "breast-cancer@3", "--suite", suite_file)
    assert done.code == 2
    assert "dataset breast-cancer-test@1 has no column 'radius'" in done.err
    assert catalog_snapshot(Path(demo.path)) == before

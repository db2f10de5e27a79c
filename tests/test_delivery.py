"""Deployment events and the five delivery figures, on a history built with explicit times.

Four versions of model bc (distinct bytes of the demo's classifier), each with a real
suite run and benchmark, released, approved by carol and packaged by alice with the
catalog's clock set to the day each step happened; then deployments, failures, a
rollback and a hotfix recorded with ``--at``, one of them out of order. The expected
figures are worked out here from the timeline below and the definitions in the issue,
not read from the code's output.

    day  0 10 20 30   bc@1..bc@4 registered
    R1 (bc@1 -> a, b) created 1, approved 2, packaged 3; deployed a@4, b@5 (recorded last)
    R2 (bc@2 -> a, b) created 11, approved 12, packaged 13; deployed a@14, b@15; b failed @16
    R3 (bc@3 -> a)    created 21, approved 22, packaged 23; deployed a@24; failed @25;
                      a rolled back to R2 @26
    R4 (bc@4 -> a)    fixes R3: created 31, approved 32, packaged 33; deployed a@34
"""

from __future__ import annotations

import datetime as dt
import json

import onnx
import pytest

from modeldesk.bench.profiles import Profile, add_profile, get_profile
from modeldesk.bench.run import bench_profile
from modeldesk.delivery import delivery_figures
from modeldesk.errors import BadInputError, NotFoundError
from modeldesk.models.importer import import_model
from modeldesk.release.bundle import package_release
from modeldesk.release.deployments import DEPLOY, FAIL, NewEvent, format_time, record_events
from modeldesk.release.lifecycle import approve_release
from modeldesk.release.policy import set_policy
from modeldesk.release.records import create_release
from modeldesk.resources import resources_dir
from modeldesk.validate.registry import add_suite, get_suite
from modeldesk.validate.run import run_suite

from helpers import BC_SUITE, Cast, catalog_snapshot

START = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
POLICY = """[policy]
model = "bc"
required_suites = ["bc-gate"]
targets = ["edge-a", "edge-b"]
"""


def day(number: float) -> dt.datetime:
    return START + dt.timedelta(days=number)


def hours(later: float, earlier: float) -> float:
    """Hours between two days of the timeline."""
    return (later - earlier) * 24.0


def _set_clock(catalog, number: float) -> None:
    catalog.clock = lambda: format_time(day(number))


def _version_file(tmp_path, index: int):
    model = onnx.load(resources_dir() / "demo" / "models" / "breast-cancer-v2.onnx")
    model.doc_string = f"build {index}"  # distinct bytes, the same model
    path = tmp_path / f"bc-{index}.onnx"
    onnx.save(model, path)
    return path


def _release(catalog, cast, version: int, targets, first_day: float, fixes=None) -> int:
    _set_clock(catalog, first_day)
    release = create_release(catalog, cast.bob, f"bc@{version}", targets=targets, fixes=fixes)
    _set_clock(catalog, first_day + 1)
    approve_release(catalog, cast.carol, release.id, comment="evidence reviewed")
    _set_clock(catalog, first_day + 2)
    package_release(catalog, cast.alice, release.id, catalog.path.parent / "bundles")
    return release.id


def _events(catalog, cast, *items) -> None:
    _set_clock(catalog, 40)
    record_events(catalog, cast.bob, list(items))


@pytest.fixture
def history(demo, tmp_path):
    cast = Cast(tmp_path / "people")
    cast.trust_all(demo)
    for index, registered in enumerate((0, 10, 20, 30), start=1):
        _set_clock(demo, registered)
        import_model(
            demo,
            _version_file(tmp_path, index),
            name="bc",
            signer=cast.bob,
            trained_on="breast-cancer-train@2",
            classes=["malignant", "benign"],
        )
        if index == 1:
            for name in ("edge-a", "edge-b"):
                add_profile(demo, Profile(name, intra_threads=1, iterations=5, budget_ms=10_000))
            add_suite(demo, BC_SUITE)
            set_policy(demo, cast.alice, POLICY)
        run_suite(demo, get_suite(demo, "bc-gate"), f"bc@{index}")
        for name in ("edge-a", "edge-b"):
            bench_profile(demo, f"bc@{index}", get_profile(demo, name))
    r1 = _release(demo, cast, 1, ["edge-a", "edge-b"], 1)
    r2 = _release(demo, cast, 2, ["edge-a", "edge-b"], 11)
    r3 = _release(demo, cast, 3, ["edge-a"], 21)
    _events(
        demo,
        cast,
        NewEvent(DEPLOY, r1, "edge-a", day(4)),
        NewEvent(DEPLOY, r2, "edge-a", day(14)),
        NewEvent(DEPLOY, r2, "edge-b", day(15)),
        NewEvent(FAIL, r2, "edge-b", day(16), note="crashes on boot"),
        NewEvent(DEPLOY, r3, "edge-a", day(24)),
        NewEvent(FAIL, r3, "edge-a", day(25), note="wrong labels"),
        NewEvent(DEPLOY, r2, "edge-a", day(26), rollback_of=r3),
    )
    r4 = _release(demo, cast, 4, ["edge-a"], 31, fixes=r3)
    _events(demo, cast, NewEvent(DEPLOY, r4, "edge-a", day(34)))
    _events(demo, cast, NewEvent(DEPLOY, r1, "edge-b", day(5)))  # recorded late, out of order
    _set_clock(demo, 40)
    return demo, cast, {"r1": r1, "r2": r2, "r3": r3, "r4": r4}


def test_the_five_figures_over_the_whole_history(history):
    catalog, _, _ = history
    figures = delivery_figures(catalog, model="bc", since=day(0), until=day(40))
    # a: R1@4, R2@14, R3@24, R2@26 (rollback), R4@34; b: R1@5, R2@15.
    assert figures["deployments"] == 7
    assert figures["deploys_per_week"] == pytest.approx(7 / (40 / 7))
    # Failed before the next deployment on their target: R2 on b, R3 on a.
    assert figures["change_fail_rate"] == pytest.approx(2 / 7)
    assert figures["rework_rate"] == pytest.approx(1 / 7)  # R4, the hotfix
    lead = figures["lead_time_hours"]
    firsts = [hours(4, 0), hours(5, 0), hours(14, 10), hours(15, 10), hours(24, 20), hours(34, 30)]
    assert lead["versions"] == len(firsts) == 6
    assert lead["median"] == pytest.approx(sorted(firsts)[2] / 2 + sorted(firsts)[3] / 2)
    assert lead["p90"] == pytest.approx(120.0)  # between the 5th and 6th of six: both 120 h
    assert lead["stages"]["registered_to_created"] == pytest.approx(24.0)
    assert lead["stages"]["created_to_approved"] == pytest.approx(24.0)
    assert lead["stages"]["approved_to_packaged"] == pytest.approx(24.0)
    # packaged -> deployed: a 1 day after each packaging, b 2 days: 24, 48, 24, 48, 24, 24.
    assert lead["stages"]["packaged_to_deployed"] == pytest.approx(24.0)
    recovery = figures["recovery_time_hours"]
    assert recovery["median"] == pytest.approx(hours(26, 25))  # the rollback recovered R3
    assert recovery["recovered"] == 1
    assert [(o["release"], o["target"]) for o in recovery["open"]] == [(history[2]["r2"], "edge-b")]
    assert recovery["open"][0]["hours_so_far"] == pytest.approx(hours(40, 16))
    # Bands follow the intervals: six lead times all between 1 day and 1 week are 'high';
    # 2 failures in 7 cannot tell medium from low; one recovery decides nothing.
    assert figures["bands"]["lead_time"]["band"] == "high"
    assert figures["bands"]["change_fail_rate"]["band"] == "INCONCLUSIVE"
    assert figures["bands"]["recovery_time"]["band"] == "INCONCLUSIVE"
    low, high = figures["intervals"]["change_fail_rate"]
    assert low < 2 / 7 < high
    assert "2024" in figures["bands"]["source"]


def test_a_window_cutting_through_the_history_and_one_target(history):
    catalog, _, _ = history
    figures = delivery_figures(catalog, model="bc", since=day(12), until=day(30))
    assert figures["deployments"] == 4  # a: R2@14, R3@24, R2@26; b: R2@15
    assert figures["change_fail_rate"] == pytest.approx(2 / 4)
    assert figures["rework_rate"] == 0
    assert figures["lead_time_hours"]["versions"] == 3  # bc@2 on a and b, bc@3 on a
    assert figures["recovery_time_hours"]["open"][0]["hours_so_far"] == pytest.approx(hours(30, 16))
    only_b = delivery_figures(catalog, model="bc", target="edge-b", since=day(0), until=day(40))
    assert only_b["deployments"] == 2 and only_b["change_fail_rate"] == pytest.approx(0.5)
    assert only_b["recovery_time_hours"]["recovered"] == 0


def test_bad_events_are_refused_with_the_reason_and_record_nothing(history, tmp_path):
    catalog, cast, ids = history
    _set_clock(catalog, 41)
    candidate = create_release(catalog, cast.bob, "bc@4", targets=["edge-b"])
    before = catalog_snapshot(catalog.path)
    cases = [
        (NewEvent(DEPLOY, 999, "edge-a", day(35)), NotFoundError, "release #999 is not in"),
        (NewEvent(DEPLOY, candidate.id, "edge-b", day(41)), BadInputError, "only a packaged"),
        (NewEvent(DEPLOY, ids["r4"], "edge-a", day(50)), BadInputError, "in the future"),
        (NewEvent(DEPLOY, ids["r4"], "edge-a", day(32)), BadInputError, "before release"),
        (NewEvent(DEPLOY, ids["r3"], "edge-b", day(35)), BadInputError, "targets edge-a"),
        (NewEvent(FAIL, ids["r1"], "edge-a", day(35), note="x"), BadInputError, "is not live"),
        (NewEvent(FAIL, ids["r2"], "edge-b", day(17), note="x"), BadInputError, "failed already"),
        (
            NewEvent(DEPLOY, ids["r4"], "edge-b", day(35), rollback_of=ids["r2"]),
            BadInputError,
            "targets edge-a",
        ),
        (
            NewEvent(DEPLOY, ids["r1"], "edge-a", day(27), rollback_of=ids["r3"]),
            BadInputError,
            "not live on edge-a",
        ),
    ]
    for event, error, message in cases:
        with pytest.raises(error, match=message):
            record_events(catalog, cast.bob, [event])
    # Inserted out of order, a deploy between R3's deployment and its failure would leave
    # that failure about a release no longer live: refused.
    with pytest.raises(BadInputError, match="recorded event .* not live"):
        record_events(catalog, cast.bob, [NewEvent(DEPLOY, ids["r2"], "edge-a", day(24.5))])
    assert catalog_snapshot(catalog.path) == before


def test_events_import_is_all_or_nothing(history, tmp_path, run_cli, monkeypatch):
    catalog, cast, ids = history
    cast.act_as(monkeypatch, "bob")
    good = tmp_path / "events.csv"
    good.write_text(
        "kind,release,target,at,to,note\n"
        f"deploy,{ids['r2']},edge-b,2026-07-07T00:00Z,,\n"
        f"fail,{ids['r2']},edge-b,2026-07-08,,overheats\n"
    )
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        json.dumps({"kind": "deploy", "release": ids["r2"], "target": "edge-b", "at": "2026-07-07"})
        + "\n"
        + json.dumps({"kind": "launch", "release": ids["r2"], "target": "edge-b", "at": "x"})
        + "\n"
    )
    before = catalog_snapshot(catalog.path)
    refused = run_cli("--catalog", catalog.path, "release", "events", "import", bad)
    assert refused.code != 0 and "bad.jsonl: line 2: kind 'launch'" in refused.err
    assert len(refused.err.strip().splitlines()) == 1
    assert catalog_snapshot(catalog.path) == before
    done = run_cli("--catalog", catalog.path, "release", "events", "import", good)
    assert done.code == 0, done.err
    assert "recorded 2 event(s)" in done.out
    rows = catalog.query("SELECT kind, note FROM deployment_event ORDER BY id DESC LIMIT 2")
    assert [(r["kind"], r["note"]) for r in rows] == [("fail", "overheats"), ("deploy", None)]
    signed = catalog.query(
        "SELECT COUNT(*) AS n FROM audit WHERE action LIKE 'release.%' AND "
        "signature IS NOT NULL AND action IN ('release.deploy', 'release.fail')"
    )
    assert signed[0]["n"] >= 2


def test_the_delivery_and_deploy_commands(history, run_cli, monkeypatch):
    catalog, cast, ids = history
    cast.act_as(monkeypatch, "bob")
    window = [
        "--catalog",
        catalog.path,
        "delivery",
        "--model",
        "bc",
        "--since",
        "2026-06-01",
        "--until",
        "2026-07-11",
    ]
    shown = run_cli(*window, "--json")
    assert shown.code == 0, shown.err
    figures = json.loads(shown.out)
    for name in (
        "deployments",
        "lead_time_hours",
        "deploys_per_week",
        "change_fail_rate",
        "recovery_time_hours",
        "rework_rate",
        "bands",
    ):
        assert name in figures
    assert {"median", "p90", "stages"} <= set(figures["lead_time_hours"])
    assert {"median", "open"} <= set(figures["recovery_time_hours"])
    table = run_cli(*window)
    assert "change fail rate" in table.out and "28.6 %" in table.out
    deployed = run_cli(
        "--catalog",
        catalog.path,
        "release",
        "rollback",
        ids["r4"],
        "--target",
        "edge-a",
        "--to",
        ids["r2"],
        "--at",
        "2026-07-06T12:00Z",
    )
    assert deployed.code == 0, deployed.err
    assert f"rolled back from release #{ids['r4']} to release #{ids['r2']}" in deployed.out
    future = run_cli(
        "--catalog",
        catalog.path,
        "release",
        "deploy",
        ids["r4"],
        "--target",
        "edge-a",
        "--at",
        "2099-01-01",
    )
    assert future.code != 0 and "in the future" in future.err
    history_shown = run_cli("--catalog", catalog.path, "release", "show", ids["r3"]).out
    assert "edge-a: failed (wrong labels)" in history_shown
    assert f"edge-a: rolled back to release #{ids['r2']}" in history_shown
    assert run_cli("--catalog", catalog.path, "audit", "verify").code == 0


def test_the_intervals_agree_with_scipy():
    """The exact intervals are computed without scipy (its import alone would cost the
    command 2 s); here they are checked against it."""
    from scipy.stats import binom, chi2

    from modeldesk.delivery_stats import binomial_quantile, poisson_rate_interval, wilson_interval

    for n in (1, 5, 6, 10, 37, 200, 5000):
        for p in (0.025, 0.975):
            for q in (0.5, 0.9):
                assert binomial_quantile(p, n, q) == int(binom.ppf(p, n, q)), (n, p, q)
    for count in (0, 1, 2, 7, 50, 100, 101, 3000):
        low, high = poisson_rate_interval(count, 2.0)
        expected_low = chi2.ppf(0.025, 2 * count) / 2 if count else 0.0
        expected_high = chi2.ppf(0.975, 2 * count + 2) / 2
        assert low * 2 == pytest.approx(expected_low, rel=1e-4, abs=1e-9)
        assert high * 2 == pytest.approx(expected_high, rel=1e-4)
    # Wilson's interval for 2 of 7, from its formula's published value.
    assert wilson_interval(2, 7) == pytest.approx([0.0822, 0.6411], abs=1e-4)


def test_the_demo_records_months_of_releases_by_its_two_keys(built_history_demo):
    from modeldesk.catalog.store import Catalog
    from modeldesk.demo_history import EVENTS, RELEASES
    from modeldesk.release.deployments import list_events
    from modeldesk.release.records import list_releases
    from modeldesk.release.trust import trusted_keys

    with Catalog.open(built_history_demo) as catalog:
        roles = sorted(
            (key.label.split(" ")[0], key.roles) for key in trusted_keys(catalog).values()
        )
        assert roles == [("Dana", ("engineer",)), ("Robin", ("release-manager",))]
        events = list_events(catalog)
        deploys = [e for e in events if e.kind == DEPLOY]
        assert len(deploys) == sum(kind in ("deploy", "rollback") for _, kind, *_ in EVENTS) >= 8
        assert {e.target for e in deploys} == {"clinic-gateway", "ward-tablet"}
        assert any(e.rollback_of is not None for e in deploys)
        assert sum(e.kind == FAIL for e in events) >= 1
        releases = list_releases(catalog)
        assert len(releases) == len(RELEASES) and sum(r.fixes_id is not None for r in releases) == 1
        span = max(d for d, *_ in EVENTS) - min(d for d, *_ in EVENTS)
        assert span >= 60  # spread over months
        figures = delivery_figures(catalog, since=START.replace(year=2000))
        assert figures["deployments"] == len(deploys) and figures["hotfixes"] == 2  # both targets
        assert figures["recovery_time_hours"]["recovered"] == 2

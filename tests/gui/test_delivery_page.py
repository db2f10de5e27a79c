"""The delivery dashboard and the Release tab's field record, on the demo as a user first
sees it (months of history signed by its two demo keys).

Expected counts come from the demo's own timeline (``modeldesk.demo_history.EVENTS``,
days before the build), not from the dashboard's output.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from modeldesk.catalog.store import Catalog
from modeldesk.demo import KEYS_FOLDER
from modeldesk.demo_history import EVENTS
from modeldesk.gui.navigator import Selection
from modeldesk.release.deployments import list_events

WINDOW_DAYS = 90


@pytest.fixture
def history_window(qtbot, built_history_demo: Path, tmp_path: Path, monkeypatch):
    """The main window on a copy of the history demo, its dashboard drawn."""
    from modeldesk.gui.main_window import MainWindow

    path = tmp_path / "demo"
    shutil.copytree(built_history_demo, path)
    # Dana, the demo engineer, runs the app (records deployments; may not approve).
    monkeypatch.setenv("MODELDESK_KEY", str(path / KEYS_FOLDER / "engineer" / "signing-key.pem"))
    main = MainWindow(Catalog.open(path))
    qtbot.addWidget(main)
    main.show()
    qtbot.waitExposed(main)
    qtbot.waitUntil(lambda: main.settled, timeout=60_000)
    view = main.catalog_page.delivery
    qtbot.waitUntil(lambda: view.board is not None and view.drawn, timeout=120_000)
    yield main
    main.runner.shutdown()


def _in_window(kind: str) -> int:
    return sum(
        1
        for days, event_kind, *_ in EVENTS
        if days < WINDOW_DAYS
        and (event_kind == kind or (kind == "deploy" and event_kind == "rollback"))
    )


def test_the_first_page_shows_the_five_figures_timeline_stages_and_waiting(history_window):
    window = history_window
    assert window.pages.currentWidget() is window.catalog_page
    view = window.catalog_page.delivery
    assert window.catalog_page.tabs.currentWidget() is view
    deployments, failures = _in_window("deploy"), _in_window("fail")
    assert deployments >= 8 and failures >= 1
    assert f"<b>{deployments}</b> deployment(s), {failures} failed" in view.heading.text()
    titles = [card.title.text() for card in view.cards]
    assert [t.replace("<b>", "").replace("</b>", "") for t in titles] == [
        "Change lead time (median)",
        "Deployment frequency",
        "Change fail rate",
        "Failed deployment recovery time (median)",
        "Deployment rework rate",
    ]
    assert f"{failures} of {deployments} deployment(s) failed" in view.cards[2].note.text()
    for card in view.cards[:4]:  # a band or INCONCLUSIVE, each with the interval
        assert card.band.text() and "95 % interval" in card.note.text()
    assert view.cards[4].band.text() == "(no bands)"
    assert set(view.cards[1].lines) == {"breast-cancer", "diabetes", "digits"}
    assert "DORA" in view.source.text() and "2024" in view.source.text()
    # Three models on two targets: six lanes; the failed and rolled-back deployments drawn.
    assert len(view.timeline.lanes) == 6
    assert {"failed", "live"} <= set(view.timeline.scatters)
    assert view.stages.models == ["breast-cancer", "diabetes", "digits"]
    waiting = {row[1]: row[2] for row in view.waiting.visible_rows()}
    assert waiting["digits@2"] == "… awaiting approval"
    assert waiting["breast-cancer@3"] == "✘ gate fails"


def test_clicking_a_timeline_point_or_a_waiting_row_opens_the_release(history_window, qtbot):
    window = history_window
    view = window.catalog_page.delivery
    index = next(i for i, p in enumerate(view.timeline.points) if p["outcome"] == "failed")
    wanted = view.timeline.points[index]["release"]
    view.timeline.click_point(index)
    page = window.model_version_page
    qtbot.waitUntil(
        lambda: page.release.selected is not None and page.release.selected.id == wanted,
        timeout=60_000,
    )
    assert window.pages.currentWidget() is page and page.tabs.currentWidget() is page.release
    qtbot.waitUntil(lambda: page.release.deploy_state is not None, timeout=60_000)
    kinds = [row[0] for row in page.release.history.visible_rows()]
    assert "fail" in kinds  # its deployment history shows the failure
    window.open_selection(Selection("model", None, None))
    row = next(i for i, item in enumerate(view.board["waiting"]) if item["ref"] == "digits@2")
    view._open_waiting(row)
    qtbot.waitUntil(
        lambda: (
            page.release.selected is not None
            and page.release.selected.id == view.board["waiting"][row]["release"]
        ),
        timeout=60_000,
    )


def _open_release(window, qtbot, release_id: int):
    qtbot.waitUntil(lambda: not window.runner.active, timeout=60_000)  # no stale reads
    view = window.model_version_page.release
    view.deploy_state = None
    window.open_release(release_id)
    qtbot.waitUntil(
        lambda: view.deploy_state is not None and view.deploy_state["release"].id == release_id,
        timeout=60_000,
    )
    return view


def test_deploy_fail_and_roll_back_from_the_release_tab(history_window, qtbot):
    window = history_window
    catalog = window.catalog
    # breast-cancer@2's release went back to @1 on the tablet after failing there.
    bc2 = next(
        e.release_id for e in list_events(catalog) if e.kind == "fail" and e.target == "ward-tablet"
    )
    view = _open_release(window, qtbot, bc2)
    assert view.deploy_button.isEnabled()
    # Still live on the gateway; not on the tablet, where it was rolled back.
    assert view.fail_button.toolTip() == "Record that its deployment on clinic-gateway failed"
    before = len(list_events(catalog))
    view.record("deploy", "ward-tablet", note="camera driver fixed")
    qtbot.waitUntil(lambda: len(list_events(catalog)) == before + 1, timeout=60_000)
    view = _open_release(window, qtbot, bc2)
    assert "ward-tablet" in view.fail_button.toolTip() and view.rollback_button.isEnabled()
    # A failure needs its reason: refused with a sentence, nothing recorded.
    assert view.record("fail", "ward-tablet") is None
    assert "why" in view.status.text() and len(list_events(catalog)) == before + 1
    view.record("fail", "ward-tablet", note="recall dropped again")
    qtbot.waitUntil(lambda: len(list_events(catalog)) == before + 2, timeout=60_000)
    view = _open_release(window, qtbot, bc2)
    earlier = view.deploy_state["options"]["ward-tablet"]["earlier"]
    view.record("rollback", "ward-tablet", back_to=earlier[0])
    qtbot.waitUntil(lambda: len(list_events(catalog)) == before + 3, timeout=60_000)
    newest = list_events(catalog, target="ward-tablet")[-1]
    assert (newest.kind, newest.release_id, newest.rollback_of) == ("deploy", earlier[0], bc2)
    view = _open_release(window, qtbot, bc2)
    kinds = [row[0] for row in view.history.visible_rows()]
    assert kinds[-3:] == ["deploy", "fail", "rollback"]

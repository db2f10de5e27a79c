"""The Release tab: a release's gates as a checklist, decisions disabled with the reason
when this key may not decide, approving on the pool, packaging and verifying a bundle."""

from __future__ import annotations

from pathlib import Path

from modeldesk.bench.profiles import Profile, add_profile, get_profile
from modeldesk.bench.run import bench_profile
from modeldesk.catalog.store import Catalog
from modeldesk.gui.navigator import Selection
from modeldesk.release.policy import set_policy
from modeldesk.release.records import create_release, get_release
from modeldesk.validate.registry import get_suite
from modeldesk.validate.run import run_suite

from helpers import Cast

POLICY = """[policy]
model = "breast-cancer"
required_suites = ["breast-cancer-gate"]
targets = ["edge-roomy"]
"""


def _prepare(path: Path, people: Path) -> tuple[Cast, int]:
    """bob's release of breast-cancer@2 with its evidence, in the catalog at ``path``."""
    with Catalog.open(path) as catalog:
        cast = Cast(people)
        cast.trust_all(catalog)
        add_profile(catalog, Profile("edge-roomy", intra_threads=1, iterations=10,
                                     budget_ms=10_000))  # fmt: skip
        set_policy(catalog, cast.alice, POLICY)
        run_suite(catalog, get_suite(catalog, "breast-cancer-gate"), "breast-cancer@2")
        bench_profile(catalog, "breast-cancer@2", get_profile(catalog, "edge-roomy"))
        release = create_release(catalog, cast.bob, "breast-cancer@2", targets=["edge-roomy"])
    return cast, release.id


def _release_tab(window, qtbot):
    window.open_selection(Selection("model", "breast-cancer", 2))
    page = window.model_version_page
    page.tabs.setCurrentWidget(page.release)
    view = page.release
    qtbot.waitUntil(lambda: view.report is not None, timeout=60_000)
    return view


def test_the_creator_sees_the_gates_and_why_they_may_not_approve(
    window, qtbot, demo_path, tmp_path, monkeypatch
):
    cast, release_id = _prepare(demo_path, tmp_path / "people")
    cast.act_as(monkeypatch, "bob")
    view = _release_tab(window, qtbot)
    assert view.selected.id == release_id
    gates = {row[0]: (row[1], row[2]) for row in view.gates.visible_rows()}
    assert gates["suite:breast-cancer-gate"][0] == "✔ PASS"
    assert gates["approvals"] == ("✘ FAIL", "0 of 1 approval(s)")
    assert not view.approve_button.isEnabled()
    assert "not a release manager's" in view.approve_button.toolTip()
    assert not view.package_button.isEnabled() and "candidate" in view.package_button.toolTip()
    window.grab().save(str(tmp_path / "release-creator.png"))


def test_a_release_manager_approves_packages_and_verifies(
    window, qtbot, demo_path, tmp_path, monkeypatch
):
    cast, release_id = _prepare(demo_path, tmp_path / "people")
    cast.act_as(monkeypatch, "carol")
    view = _release_tab(window, qtbot)
    assert view.approve_button.isEnabled() and view.approve_button.toolTip() == ""
    view.comment.setPlainText("suite and latency reviewed")
    view.decide(approve=True)
    qtbot.waitUntil(lambda: "is approved" in view.status.text(), timeout=60_000)
    qtbot.waitUntil(
        lambda: view.report is not None and view.selected.state == "approved", timeout=60_000
    )
    assert (
        get_release(window.context.catalog, release_id).approvals[0].key == cast.carol.fingerprint
    )
    # The demo's breast-cancer@2 was imported without a key: no bundle without its author's
    # signature, and the button says so.
    assert not view.package_button.isEnabled()
    assert "carries no author signature" in view.package_button.toolTip()
    window.grab().save(str(tmp_path / "release-manager.png"))


def test_the_keys_dialog_shows_your_key_and_revokes_with_a_reason(
    qtbot, demo_path, tmp_path, monkeypatch
):
    from modeldesk.gui.widgets.keys_dialog import KeysDialog
    from modeldesk.release.trust import trusted_keys

    with Catalog.open(demo_path) as catalog:
        cast = Cast(tmp_path / "people")
        cast.trust_all(catalog)
        cast.act_as(monkeypatch, "alice")
        dialog = KeysDialog(catalog)
        qtbot.addWidget(dialog)
        assert cast.alice.fingerprint in dialog.mine.text()
        assert "trusted here as alice (release-manager)" in dialog.mine.text()
        assert not dialog.create_button.isEnabled()
        assert [row[0] for row in dialog.table.visible_rows()] == ["alice", "bob", "carol"]
        dialog.revoke_selected()
        assert dialog.status.text() == "Select the key to revoke first."
        dialog.table.view.selectRow(1)
        monkeypatch.setattr(
            "modeldesk.gui.widgets.keys_dialog.QInputDialog.getText",
            lambda *args, **kwargs: ("laptop lost", True),
        )
        dialog.revoke_selected()
        assert dialog.status.text().startswith("Revoked bob")
        assert trusted_keys(catalog)[cast.bob.fingerprint].revoke_reason == "laptop lost"
        assert "laptop lost" in dialog.table.visible_rows()[1][4]
        cast.act_as(monkeypatch, "bob")  # a revoked engineer's try is refused with why
        dialog.refresh()
        dialog.table.view.selectRow(2)
        dialog.revoke_selected()
        assert "was revoked on" in dialog.status.text()


def test_a_new_release_is_created_from_the_tab_with_the_targets_chosen(
    window, qtbot, demo_path, tmp_path, monkeypatch
):
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QListWidget

    cast, first = _prepare(demo_path, tmp_path / "people")
    cast.act_as(monkeypatch, "bob")
    view = _release_tab(window, qtbot)

    def choose_every_target(form, fields) -> bool:  # what a user ticks, then OK
        targets = form.findChild(QListWidget)
        for index in range(targets.count()):
            targets.item(index).setCheckState(Qt.CheckState.Checked)
        return True

    monkeypatch.setattr("modeldesk.gui.pages.release_view.ask", choose_every_target)
    view.create()
    assert view.status.text() == f"Created release #{first + 1}."
    qtbot.waitUntil(lambda: view.selected is not None and view.selected.id == first + 1,
                    timeout=60_000)  # fmt: skip
    assert view.selected.targets == ("edge-roomy",) and view.selected.state == "candidate"
    assert [row[0] for row in view.list.visible_rows()] == [str(first + 1), str(first)]


def test_importing_with_an_encrypted_key_asks_its_passphrase_and_signs(
    window, qtbot, model_file, monkeypatch
):
    import base64

    from modeldesk.gui.import_dialog import ImportRequest
    from modeldesk.models.registry import get_model_version
    from modeldesk.release.keys import init_key

    mine = init_key("dana", passphrase=b"open sesame")  # the user's own, in their config folder
    asked: list[str] = []

    def answer(parent, title, label, *args, **kwargs):
        asked.append(label)
        return "open sesame", True

    monkeypatch.setattr("modeldesk.gui.widgets.keys_dialog.QInputDialog.getText", answer)
    request = ImportRequest("model", model_file("linear_regressor"), "signed-model")
    window.importer.start(request)
    qtbot.waitUntil(lambda: not window.runner.active, timeout=60_000)
    version = get_model_version(window.catalog, "signed-model@1")
    assert asked == ["Your signing key's passphrase:"]
    assert version.author_key == mine.fingerprint and version.author_signature
    signature = base64.b64decode(version.author_signature)
    assert mine.public.verify(signature, version.author_statement.encode())

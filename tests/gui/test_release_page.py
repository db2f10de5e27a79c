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

from helpers import BC_SUITE, Cast

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
        add_profile(
            catalog, Profile("edge-roomy", intra_threads=1, iterations=10, budget_ms=10_000)
        )
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
    assert not view.export_button.isEnabled()  # the demo's version has no author signature
    assert "no author signature" in view.export_button.toolTip()
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
    qtbot.waitUntil(
        lambda: view.selected is not None and view.selected.id == first + 1, timeout=60_000
    )
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


def _prepare_signed(path: Path, people: Path) -> tuple[Cast, int]:
    """bob's release of bc@1, a version he imported with his key (so it can travel)."""
    from modeldesk.models.importer import import_model
    from modeldesk.resources import resources_dir
    from modeldesk.validate.registry import add_suite

    with Catalog.open(path) as catalog:
        cast = Cast(people)
        cast.trust_all(catalog)
        model = resources_dir() / "demo" / "models" / "breast-cancer-v2.onnx"
        import_model(catalog, model, name="bc", trained_on="breast-cancer-train@2", signer=cast.bob)
        add_profile(
            catalog, Profile("edge-roomy", intra_threads=1, iterations=10, budget_ms=10_000)
        )
        suite, _ = add_suite(catalog, BC_SUITE)
        set_policy(
            catalog,
            cast.alice,
            POLICY.replace("breast-cancer-gate", "bc-gate").replace('"breast-cancer"', '"bc"'),
        )
        run_suite(catalog, suite, "bc@1")
        bench_profile(catalog, "bc@1", get_profile(catalog, "edge-roomy"))
        release = create_release(catalog, cast.bob, "bc@1", targets=["edge-roomy"])
    return cast, release.id


def test_a_candidate_is_exported_reviewed_and_its_bundle_recorded_from_the_tab(
    window, qtbot, demo_path, tmp_path, monkeypatch
):
    from PySide6.QtWidgets import QFileDialog

    from modeldesk.release.bundle import package_release
    from modeldesk.release.lifecycle import approve_release

    cast, release_id = _prepare_signed(demo_path, tmp_path / "people")
    cast.act_as(monkeypatch, "bob")
    window.open_selection(Selection("model", "bc", 1))
    page = window.model_version_page
    page.tabs.setCurrentWidget(page.release)
    view = page.release
    qtbot.waitUntil(lambda: view.report is not None, timeout=60_000)
    assert view.export_button.isEnabled()
    out = tmp_path / "bc.mdrc"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out)[:-5], ""))
    view.export_button.click()  # the suffix is added when the name lacks it
    qtbot.waitUntil(lambda: "Wrote" in view.status.text(), timeout=60_000)
    assert out.is_file()

    # carol reviews it in the same catalog: the same flow, two keys; nothing new to bring.
    cast.act_as(monkeypatch, "carol")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(out), ""))
    view.review_button.click()
    qtbot.waitUntil(lambda: "is here" in view.status.text(), timeout=60_000)
    assert "nothing new" in view.status.text() and "the same as" in view.status.text()

    with Catalog.open(demo_path) as catalog:
        approve_release(catalog, cast.carol, release_id, comment="reviewed")
        bundle = package_release(catalog, cast.alice, release_id, tmp_path / "out")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(bundle), ""))
    view.record_button.click()  # recorded already: packaging here did
    qtbot.waitUntil(lambda: "recorded" in view.status.text(), timeout=60_000)
    assert "Already recorded: release" in view.status.text()
    window.grab().save(str(tmp_path / "release-transfer.png"))

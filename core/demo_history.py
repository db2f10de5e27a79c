"""The demo catalog's release history: months of releases, deployments, a failure
rolled back, a hotfix, and what is waiting now.

Two demo people sign it, with keys made for the demo and kept in its folder
(``demo-keys/``, unencrypted, trusted by that catalog alone): Dana, an engineer who
registers versions and records deployments, and Robin, the release manager who
approves and packages. Every step runs the real code with the catalog's clock set to
the day it happened, so validation runs, benchmarks, gates and bundles are real and
the delivery figures are computed from the record like any other catalog's.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from modeldesk.catalog.store import Catalog
from modeldesk.progress import ProgressCallback, check_cancel
from modeldesk.release.keys import SigningKey

__all__ = ["DEMO_TARGETS", "HISTORY_DAYS", "DemoPeople", "add_targets", "play_history", "set_day"]

# Two device profiles the demo releases go to. Few iterations: the demo build stays quick,
# and the budgets are loose enough to hold on a busy machine.
DEMO_TARGETS: dict[str, dict[str, Any]] = {
    "clinic-gateway": dict(intra_threads=2, iterations=30, warmup=5, budget_ms=250.0),
    "ward-tablet": dict(intra_threads=1, cores=(0,), iterations=30, warmup=5, budget_ms=250.0),
}
HISTORY_DAYS = 180  # the datasets arrive this many days before the build
ENGINEER, MANAGER = "engineer", "release-manager"  # the key folders

# Days before the build on which each model version was registered.
REGISTERED: dict[tuple[str, int], float] = {
    ("breast-cancer", 1): 150,
    ("diabetes", 1): 130,
    ("breast-cancer", 2): 85,
    ("digits", 1): 75,
    ("diabetes", 2): 60,
    ("diabetes", 3): 52,
    ("breast-cancer", 3): 20,
    ("digits", 2): 10,
}


@dataclass(frozen=True)
class DemoRelease:
    """One release of the history, by the days (before the build) of its steps."""

    key: str
    model: str
    targets: tuple[str, ...]
    created: float
    approved: float | None = None  # None: still waiting
    packaged: float | None = None
    fixes: str | None = None


BOTH = tuple(DEMO_TARGETS)
RELEASES = (
    DemoRelease("bc1", "breast-cancer@1", BOTH, 148, 147, 146.5),
    DemoRelease("diab1", "diabetes@1", BOTH, 128, 127, 126.5),
    DemoRelease("bc2", "breast-cancer@2", BOTH, 83, 80, 79.5),
    DemoRelease("digits1", "digits@1", BOTH, 73, 71, 70.8),
    DemoRelease("diab2", "diabetes@2", BOTH, 58, 57, 56.6),
    DemoRelease("diab3", "diabetes@3", BOTH, 51.5, 51.2, 51.0, fixes="diab2"),
    DemoRelease("bc3", "breast-cancer@3", BOTH, 18),  # its gate fails: it waits
    DemoRelease("digits2", "digits@2", BOTH, 6),  # its gates hold: awaiting approval
)

# (day, kind, release, target, note or the release rolled back from)
EVENTS = (
    (146, "deploy", "bc1", "clinic-gateway", "first rollout"),
    (144, "deploy", "bc1", "ward-tablet", ""),
    (126, "deploy", "diab1", "clinic-gateway", ""),
    (124, "deploy", "diab1", "ward-tablet", ""),
    (78, "deploy", "bc2", "clinic-gateway", ""),
    (76, "deploy", "bc2", "ward-tablet", ""),
    (75.5, "fail", "bc2", "ward-tablet", "malignant recall dropped on the tablet's camera scans"),
    (75.3, "rollback", "bc1", "ward-tablet", "bc2"),
    (70, "deploy", "digits1", "clinic-gateway", ""),
    (69, "deploy", "digits1", "ward-tablet", ""),
    (56, "deploy", "diab2", "clinic-gateway", ""),
    (55, "deploy", "diab2", "ward-tablet", ""),
    (54.5, "fail", "diab2", "clinic-gateway", "predictions offset by a unit change in bmi"),
    (50.8, "deploy", "diab3", "clinic-gateway", "hotfix for the bmi units"),
    (50, "deploy", "diab3", "ward-tablet", ""),
)


@dataclass(frozen=True)
class DemoPeople:
    """The demo's two keys, kept in a folder as ``engineer/`` and ``release-manager/``."""

    engineer: SigningKey
    manager: SigningKey

    @classmethod
    def create(cls, folder: Path) -> DemoPeople:
        """Make the two keys in ``folder``."""
        from modeldesk.release.keys import init_key

        return cls(
            init_key("Dana (demo engineer)", folder=folder / ENGINEER),
            init_key("Robin (demo release manager)", folder=folder / MANAGER),
        )

    @classmethod
    def load(cls, folder: Path) -> DemoPeople:
        """The two keys a demo build made in ``folder``."""
        from modeldesk.release.keys import PRIVATE_NAME, load_signing_key

        return cls(
            load_signing_key(path=folder / ENGINEER / PRIVATE_NAME),
            load_signing_key(path=folder / MANAGER / PRIVATE_NAME),
        )

    def trust(self, catalog: Catalog) -> None:
        """Robin creates the catalog's trust and trusts Dana as an engineer."""
        from modeldesk.release.trust import trust_key

        manager = self.manager
        trust_key(catalog, manager, manager.public, name="Robin", roles=("release-manager",))
        trust_key(catalog, manager, self.engineer.public, name="Dana", roles=("engineer",))


def set_day(catalog: Catalog, build_time: dt.datetime, days_before: float) -> None:
    """Point the catalog's clock at ``days_before`` the build."""
    from modeldesk.release.deployments import format_time

    moment = build_time - dt.timedelta(days=days_before)
    catalog.clock = lambda: format_time(moment)


def _policy(model: str) -> str:
    targets = ", ".join(f'"{name}"' for name in DEMO_TARGETS)
    return (
        f'[policy]\nmodel = "{model}"\nrequired_suites = ["{model}-gate"]\n'
        f"targets = [{targets}]\napprovals = 1\n"
    )


def add_targets(catalog: Catalog) -> None:
    """The demo's two device profiles."""
    from modeldesk.bench.profiles import Profile, add_profile

    for name, settings in DEMO_TARGETS.items():
        add_profile(catalog, Profile(name, description="A demo release target.", **settings))


def model_checks(catalog: Catalog, people: DemoPeople, ref: str) -> None:
    """After ``ref`` is registered: its model's policy (with the first version), its
    suite run and a benchmark on each target."""
    from modeldesk.bench.profiles import get_profile
    from modeldesk.bench.run import bench_profile
    from modeldesk.release.policy import set_policy
    from modeldesk.validate.registry import get_suite
    from modeldesk.validate.run import run_suite

    model = ref.split("@")[0]
    if ref.endswith("@1"):
        set_policy(catalog, people.manager, _policy(model))

    run_suite(catalog, get_suite(catalog, f"{model}-gate"), ref)
    for name in DEMO_TARGETS:
        bench_profile(catalog, ref, get_profile(catalog, name))


def play_history(
    catalog: Catalog,
    people: DemoPeople,
    register: dict[tuple[str, int], Callable[[], None]],
    build_time: dt.datetime,
    bundles: Path,
    *,
    progress: ProgressCallback,
    cancel: threading.Event | None = None,
) -> None:
    """Register the demo's model versions (``register`` imports one), then create,
    approve and package its releases and record their deployments, each on its day."""
    from modeldesk.release.bundle import package_release
    from modeldesk.release.deployments import DEPLOY, FAIL, NewEvent, record_events
    from modeldesk.release.lifecycle import approve_release
    from modeldesk.release.records import create_release

    ids: dict[str, int] = {}
    steps: list[tuple[float, int, str, Callable[[], None]]] = []

    def at(days: float, label: str, action: Callable[[], None]) -> None:
        steps.append((days, len(steps), label, action))

    for (name, version), days in REGISTERED.items():
        ref = f"{name}@{version}"
        at(days, f"importing {ref}", register[(name, version)])
        at(days - 0.2, f"checking {ref}", partial(model_checks, catalog, people, ref))
    for release in RELEASES:

        def create(release: DemoRelease = release) -> None:
            fixes = ids[release.fixes] if release.fixes else None
            made = create_release(
                catalog, people.engineer, release.model, targets=list(release.targets), fixes=fixes
            )
            ids[release.key] = made.id

        def approve(release: DemoRelease = release) -> None:
            approve_release(catalog, people.manager, ids[release.key], comment="evidence reviewed")

        def package(release: DemoRelease = release) -> None:
            package_release(catalog, people.manager, ids[release.key], bundles)

        at(release.created, f"releasing {release.model}", create)
        if release.approved is not None:
            at(release.approved, f"approving {release.model}", approve)
        if release.packaged is not None:
            at(release.packaged, f"packaging {release.model}", package)
    for days, kind, key, target, extra in EVENTS:

        def record(
            kind: str = kind, key: str = key, target: str = target, extra: str = extra
        ) -> None:
            rollback = kind == "rollback"
            event = NewEvent(
                FAIL if kind == "fail" else DEPLOY,
                ids[key],
                target,
                rollback_of=ids[extra] if rollback else None,
                note=None if rollback or not extra else extra,
            )
            record_events(catalog, people.engineer, [event])

        at(days, f"recording a {kind} on {target}", record)
    steps.sort(key=lambda step: (-step[0], step[1]))
    for index, (days, _, label, action) in enumerate(steps):
        check_cancel(cancel, "demo catalog")
        progress(index, len(steps), label)
        set_day(catalog, build_time, days)
        action()
    progress(len(steps), len(steps), "release history recorded")

"""Benchmarks through a real ``sshd`` on loopback: the ssh transport end to end."""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.bench.client import AGENT_FILE
from core.bench.profiles import Profile, add_profile
from core.bench.run import bench
from core.bench.ssh import install_agent, known_hosts_file
from core.errors import BadInputError, ModelDeskError

from helpers import catalog_snapshot

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[dict[str, object]]:
    """sshd on 127.0.0.1 at a free port, with a generated host key and user key."""
    if not os.path.exists(SSHD):
        pytest.skip("sshd is not installed (.ci/run installs openssh-server)")
    folder = tmp_path / "sshd"
    folder.mkdir()
    for key in ("host_key", "user_key"):
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(folder / key)], check=True
        )
    (folder / "authorized_keys").write_text((folder / "user_key.pub").read_text())
    os.chmod(folder / "authorized_keys", 0o600)
    device_home = tmp_path / "device"
    port = _free_port()
    config = folder / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {folder / 'host_key'}\n"
        f"AuthorizedKeysFile {folder / 'authorized_keys'}\nPidFile {folder / 'sshd.pid'}\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
        "StrictModes no\nPermitRootLogin prohibit-password\n"
        f"SetEnv MODELDESK_AGENT_HOME={device_home}\n"
    )
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege-separation directory
    process = subprocess.Popen(
        [SSHD, "-D", "-e", "-f", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    else:
        process.kill()
        pytest.fail(f"sshd did not start: {process.stderr.read().decode()}")
    # The device's host key goes into ModelDesk's own known_hosts (isolated per test).
    known = known_hosts_file()
    known.parent.mkdir(parents=True, exist_ok=True)
    host_key = (folder / "host_key.pub").read_text().split()
    known.write_text(f"[127.0.0.1]:{port} {host_key[0]} {host_key[1]}\n")
    yield {"port": port, "identity": str(folder / "user_key"), "home": device_home}
    process.terminate()
    process.wait(timeout=10)


def _profile(sshd: dict[str, object], name: str = "loopback", **changes: object) -> Profile:
    settings = dict(
        kind="ssh",
        host="127.0.0.1",
        port=sshd["port"],
        user=getpass.getuser(),
        python=sys.executable,  # the "device" runs this environment's Python
        identity=sshd["identity"],
        iterations=10,
        warmup=1,
    )
    settings.update(changes)
    return Profile(name, **settings)


def test_a_model_is_benchmarked_on_a_device_over_ssh(demo, sshd):
    add_profile(demo, _profile(sshd))
    (run,) = bench(demo, "digits@2", ["loopback"])
    assert run.status == "ok", run.error
    assert run.summary["p50_ms"] > 0 and run.device["python"] == ".".join(
        map(str, sys.version_info[:3])
    )
    # The model went to the device's own cache, under its hash.
    cached = list((Path(sshd["home"]) / "models").glob("*.onnx"))
    assert [path.stem for path in cached] == [_sha(demo, "digits@2")]
    install_agent(_profile(sshd))
    copied = Path(sshd["home"]) / "agent.py"
    assert copied.read_bytes() == AGENT_FILE.read_bytes()


def _sha(demo, ref: str) -> str:
    from core.models.registry import get_model_version

    return get_model_version(demo, ref).sha256


def test_an_unreachable_host_is_a_clear_error_naming_it(demo, sshd):
    closed = _free_port()
    add_profile(demo, _profile(sshd, "nowhere", port=closed))
    before = catalog_snapshot(demo.path)
    # Refused at once, not timed out: the message says so (no duration is assumed).
    with pytest.raises(BadInputError, match=r"127\.0\.0\.1.*(refused|port)"):
        bench(demo, "digits@2", ["nowhere"])
    assert catalog_snapshot(demo.path) == before


def test_a_refused_key_is_a_clear_error(demo, sshd, tmp_path):
    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    add_profile(demo, _profile(sshd, "wrong-key", identity=str(other)))
    with pytest.raises(BadInputError, match=r"127\.0\.0\.1.*Permission denied"):
        bench(demo, "digits@2", ["wrong-key"])
    with pytest.raises(ModelDeskError, match="127.0.0.1: .*Permission denied"):
        install_agent(_profile(sshd, "wrong-key", identity=str(other)))


def test_a_config_folder_with_a_space_keeps_its_known_hosts_whole(
    demo, sshd, tmp_path, monkeypatch
):
    # As on macOS ("Application Support"): ssh must read ModelDesk's known_hosts as one file.
    spaced = tmp_path / "Application Support"
    spaced.mkdir()
    shutil.copytree(known_hosts_file().parent, spaced / "modeldesk")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(spaced))
    assert " " in str(known_hosts_file()) and known_hosts_file().is_file()
    add_profile(demo, _profile(sshd, "spaced"))
    (run,) = bench(demo, "digits@2", ["spaced"])
    assert run.status == "ok", run.error


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("host", "-oProxyCommand=touch pwned"),
        ("host", "dev ice"),
        ("host", "host;reboot"),
        ("user", "-oProxyCommand=x"),
        ("user", "pi@evil"),
        ("python", "-c"),
    ],
)
def test_hostile_ssh_fields_are_refused_where_stored_and_where_used(demo, field, value):
    from core.bench.ssh import ssh_base
    from core.errors import BadInputError

    fields = {"host": "device.local", "user": "pi", field: value}
    hostile = Profile("hostile", kind="ssh", **fields)
    with pytest.raises(BadInputError, match="profile 'hostile' needs"):
        add_profile(demo, hostile)
    # A profile read from a catalog edited by hand never went through add_profile.
    with pytest.raises(BadInputError, match="profile 'hostile' needs"):
        ssh_base(hostile)


def test_the_target_follows_an_end_of_options_marker():
    from core.bench.ssh import ssh_base

    command = ssh_base(Profile("pi", kind="ssh", host="fe80::1%eth0", user="pi", port=2222))
    assert command[-2:] == ["--", "pi@fe80::1%eth0"]
    assert command[command.index("-p") + 1] == "2222"

"""Benchmarks through a real ``sshd`` on loopback: the ssh transport end to end."""

from __future__ import annotations

import getpass
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from modeldesk.bench.client import AGENT_FILE
from modeldesk.bench.profiles import Profile, add_profile, edit_profile, get_profile
from modeldesk.bench.run import bench
from modeldesk.bench.ssh import install_agent_for, known_hosts_file, ssh_command
from modeldesk.errors import DeviceUnreachableError

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
    # The model went to the device's own cache, under its hash, in a private folder.
    cached = list((Path(sshd["home"]) / "models").glob("*.onnx"))
    assert [path.stem for path in cached] == [_sha(demo, "digits@2")]
    assert (Path(sshd["home"]) / "models").stat().st_mode & 0o777 == 0o700


def test_an_installed_agent_is_remembered_used_and_checked(demo, sshd, run_cli):
    add_profile(demo, _profile(sshd))
    done = run_cli("--catalog", demo.path, "agent", "install", "loopback")
    assert done.code == 0, done.err
    copied = Path(sshd["home"]) / "agent.py"
    assert copied.read_bytes() == AGENT_FILE.read_bytes()
    profile = get_profile(demo, "loopback")
    assert profile.agent_path == str(copied.resolve())
    assert profile.agent_sha256 == hashlib.sha256(AGENT_FILE.read_bytes()).hexdigest()
    # bench now starts the installed copy: the command carries its path, not the source.
    command = ssh_command(profile)[-1]
    assert profile.agent_path in command and "def serve" not in command
    (run,) = bench(demo, "digits@2", ["loopback"])
    assert run.status == "ok", run.error
    # A copy changed on the device is refused before it runs, with the way out named.
    copied.write_text(copied.read_text() + "\n# changed\n")
    with pytest.raises(DeviceUnreachableError, match="changed since it was installed"):
        bench(demo, "digits@2", ["loopback"])
    # A profile whose recorded hash is not this ModelDesk's agent sends the source again.
    edit_profile(demo, "loopback", agent_sha256="0" * 64)
    assert "def serve" in ssh_command(get_profile(demo, "loopback"))[-1]
    (run,) = bench(demo, "digits@2", ["loopback"])
    assert run.status == "ok", run.error


def test_a_model_with_external_data_benchmarks_over_ssh(demo, sshd, tmp_path):
    from modeldesk.models.importer import import_model

    import onnx_factory

    (tmp_path / "ext" / "w").mkdir(parents=True)  # external data in a subfolder
    path = onnx_factory.save_with_external_data(
        onnx_factory.linear_regressor(features=64), tmp_path / "ext" / "model.onnx", "w/weights.bin"
    )
    version = import_model(demo, path, name="external").version
    add_profile(demo, _profile(sshd))
    (run,) = bench(demo, "external@1", ["loopback"])
    assert run.status == "ok", run.error
    cached = {p.name for p in (Path(sshd["home"]) / "models").iterdir()}
    assert f"{version.external_files[0].sha256}.onnx" in cached
    assert not any(name.startswith("run-") for name in cached)  # the layout is removed


def _sha(demo, ref: str) -> str:
    from modeldesk.models.registry import get_model_version

    return get_model_version(demo, ref).sha256


def test_an_unreachable_host_is_a_clear_error_naming_it(demo, sshd):
    closed = _free_port()
    add_profile(demo, _profile(sshd, "nowhere", port=closed))
    before = catalog_snapshot(demo.path)
    # Refused at once, not timed out: the message says so (no duration is assumed).
    with pytest.raises(DeviceUnreachableError, match=r"127\.0\.0\.1.*(refused|port)"):
        bench(demo, "digits@2", ["nowhere"])
    assert catalog_snapshot(demo.path) == before


def test_a_refused_key_is_a_clear_error(demo, sshd, tmp_path):
    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    add_profile(demo, _profile(sshd, "wrong-key", identity=str(other)))
    with pytest.raises(DeviceUnreachableError, match=r"127\.0\.0\.1.*Permission denied"):
        bench(demo, "digits@2", ["wrong-key"])
    with pytest.raises(DeviceUnreachableError, match="127.0.0.1: .*Permission denied"):
        add_profile(demo, _profile(sshd, "wrong-key-2", identity=str(other)))
        install_agent_for(demo, "wrong-key-2")


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
    from modeldesk.bench.ssh import ssh_base
    from modeldesk.errors import BadInputError

    fields = {"host": "device.local", "user": "pi", field: value}
    hostile = Profile("hostile", kind="ssh", **fields)
    with pytest.raises(BadInputError, match="profile 'hostile' needs"):
        add_profile(demo, hostile)
    # A profile read from a catalog edited by hand never went through add_profile.
    with pytest.raises(BadInputError, match="profile 'hostile' needs"):
        ssh_base(hostile)


def test_the_target_follows_an_end_of_options_marker():
    from modeldesk.bench.ssh import ssh_base

    command = ssh_base(Profile("pi", kind="ssh", host="fe80::1%eth0", user="pi", port=2222))
    assert command[-2:] == ["--", "pi@fe80::1%eth0"]
    assert command[command.index("-p") + 1] == "2222"


def test_pointing_a_profile_at_another_device_forgets_its_installed_agent(demo):
    add_profile(demo, Profile("pi", kind="ssh", host="pi.local", user="pi"))
    edit_profile(demo, "pi", agent_path="/home/pi/agent.py", agent_sha256="a" * 64)
    assert edit_profile(demo, "pi", iterations=50).agent_path == "/home/pi/agent.py"
    moved = edit_profile(demo, "pi", host="pi2.local")
    assert (moved.agent_path, moved.agent_sha256) == ("", "")

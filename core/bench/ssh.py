"""Running the agent on a device through the system ``ssh`` client.

ssh runs in batch mode with the user's keys and known_hosts: no passwords are asked for
or stored, and an unknown host or refused key fails at once. ``agent install`` copies
``agent.py`` to the device; without it, the agent's source travels in the command line
(it is small), so a device needs only Python, numpy and onnxruntime.
"""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

from core.bench.client import AGENT_FILE
from core.bench.profiles import Profile, check_ssh_target
from core.errors import BadInputError, ModelDeskError

__all__ = [
    "REMOTE_AGENT",
    "REMOTE_CACHE",
    "REMOTE_HOME",
    "install_agent",
    "known_hosts_file",
    "ssh_base",
    "ssh_command",
]

CONNECT_TIMEOUT_S = 10
# Where the agent lives on a device; the device may choose (an environment variable).
REMOTE_HOME = '"${MODELDESK_AGENT_HOME:-$HOME/.cache/modeldesk-agent}"'
REMOTE_AGENT = REMOTE_HOME[:-1] + '/agent.py"'
REMOTE_CACHE = REMOTE_HOME[:-1] + '/models"'


def known_hosts_file() -> Path:
    """ModelDesk's own known_hosts, read after the user's (``~/.ssh/known_hosts``)."""
    import platformdirs

    return Path(platformdirs.user_config_dir("modeldesk", appauthor=False)) / "known_hosts"


def ssh_base(profile: Profile) -> list[str]:
    """``ssh`` with batch mode, a connect timeout, the port, key and target.

    The profile may come from a catalog edited by hand, so its host and user are checked
    here too, and ``--`` ends ssh's options before the target: a host such as
    ``-oProxyCommand=...`` can never be read as an option.
    """
    check_ssh_target(profile)
    known_hosts = " ".join(
        _ssh_config_quote(str(path)) for path in ("~/.ssh/known_hosts", known_hosts_file())
    )
    command = [
        "ssh",
        "-o", "BatchMode=yes",
        "-o", f"ConnectTimeout={CONNECT_TIMEOUT_S}",
        "-o", "ServerAliveInterval=15",
        "-o", f"UserKnownHostsFile={known_hosts}",
        "-p", str(int(profile.port)),
    ]  # fmt: skip
    if profile.identity:
        command += ["-i", str(Path(profile.identity).expanduser()), "-o", "IdentitiesOnly=yes"]
    target = f"{profile.user}@{profile.host}" if profile.user else profile.host
    return [*command, "--", target]


def _ssh_config_quote(value: str) -> str:
    """One ssh_config argument: double-quoted, so a path with spaces stays one file.

    ssh_config has no escape for a double quote inside quotes, so such a path is refused.
    """
    if '"' in value or "\n" in value:
        raise BadInputError(f"{value!r}: ssh cannot take a path holding a quote or a newline")
    return f'"{value}"'


def ssh_command(profile: Profile, *, installed: bool = False) -> list[str]:
    """The command that starts the agent on the profile's device."""
    if installed:
        remote = f"{shlex.quote(profile.python)} {REMOTE_AGENT} --cache {REMOTE_CACHE}"
    else:
        source = AGENT_FILE.read_text(encoding="utf-8")
        # sys.argv[1:] of ``python -c`` are the remaining words: the cache option.
        remote = f"{shlex.quote(profile.python)} -c {shlex.quote(source)} --cache {REMOTE_CACHE}"
    return [*ssh_base(profile), remote]


def install_agent(profile: Profile, timeout: float = 60.0) -> str:
    """Copy agent.py to the device (``modeldesk agent install``); returns where it went."""
    if profile.kind != "ssh":
        raise ModelDeskError(f"profile {profile.name!r} is local: there is nothing to install")
    temporary = REMOTE_AGENT[:-1] + '.tmp"'
    script = f"mkdir -p {REMOTE_CACHE} && cat > {temporary} && mv {temporary} {REMOTE_AGENT}"
    try:
        done = subprocess.run(
            [*ssh_base(profile), script],
            input=AGENT_FILE.read_bytes(),
            capture_output=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        raise ModelDeskError(f"{profile.host}: no answer within {timeout:.0f} s") from None
    if done.returncode != 0:
        last = done.stderr.decode(errors="replace").strip().splitlines()
        raise ModelDeskError(f"{profile.host}: {last[-1] if last else 'ssh failed'}")
    return REMOTE_AGENT

"""Running the agent on a device through the system ``ssh`` client.

ssh runs in batch mode with the user's keys and known_hosts: no passwords are asked for
or stored, and an unknown host or refused key fails at once. ``agent install`` copies
``agent.py`` to the device and the profile remembers its path and hash; bench runs that
copy while the hash is this ModelDesk's agent.py (checked again on the device), and
otherwise sends the agent's source in the command line (it is small), so a device needs
only Python, numpy and onnxruntime.
"""

from __future__ import annotations

import hashlib
import shlex
import subprocess
from pathlib import Path

from modeldesk.bench.client import AGENT_FILE
from modeldesk.bench.profiles import Profile, check_ssh_target, edit_profile, get_profile
from modeldesk.catalog.store import Catalog
from modeldesk.errors import BadInputError, DeviceUnreachableError

__all__ = [
    "REMOTE_AGENT",
    "REMOTE_CACHE",
    "REMOTE_HOME",
    "agent_sha256",
    "install_agent",
    "install_agent_for",
    "known_hosts_file",
    "ssh_base",
    "ssh_command",
    "uses_installed_agent",
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


# Runs the installed agent.py after checking its bytes against the hash recorded at
# install: ``python -c BOOT PATH SHA256 --cache ...``. Small, unlike the source itself.
# It compiles the very bytes it hashed (our own agent, byte for byte), rather than
# running the file by path, which would read it again after the check.
_VERIFIED_START = (
    "import hashlib, sys\n"
    "path, expected = sys.argv[1], sys.argv[2]\n"
    "source = open(path, 'rb').read()\n"
    "if hashlib.sha256(source).hexdigest() != expected:\n"
    "    sys.exit(f'the agent at {path} changed since it was installed; run modeldesk agent "
    "install again')\n"
    "sys.argv = [path, *sys.argv[3:]]\n"
    "exec(compile(source, path, 'exec'), {'__name__': '__main__', '__file__': path})\n"
)


def agent_sha256() -> str:
    """The hash of this ModelDesk's agent.py (what an installed copy must match)."""
    return hashlib.sha256(AGENT_FILE.read_bytes()).hexdigest()


def uses_installed_agent(profile: Profile) -> bool:
    """Whether bench runs the profile's installed agent (it is this ModelDesk's agent.py)."""
    return bool(profile.agent_path) and profile.agent_sha256 == agent_sha256()


def ssh_command(profile: Profile) -> list[str]:
    """The command that starts the agent on the profile's device.

    The installed agent runs when its recorded hash is this ModelDesk's agent.py, checked
    again on the device before it starts; otherwise the source travels in the command.
    """
    python = shlex.quote(profile.python)
    options = f"--cache {REMOTE_CACHE}"
    if profile.cores:
        options += " --cores " + ",".join(str(int(core)) for core in profile.cores)
    if uses_installed_agent(profile):
        remote = (
            f"{python} -c {shlex.quote(_VERIFIED_START)} {shlex.quote(profile.agent_path)} "
            f"{profile.agent_sha256} {options}"
        )
    else:
        source = AGENT_FILE.read_text(encoding="utf-8")
        # sys.argv[1:] of ``python -c`` are the remaining words: the options.
        remote = f"{python} -c {shlex.quote(source)} {options}"
    return [*ssh_base(profile), remote]


def install_agent(profile: Profile, timeout: float = 60.0) -> str:
    """Copy agent.py to the device; returns its absolute path there.

    :func:`install_agent_for` also records the path and hash in the profile, which is
    what ``modeldesk agent install`` does.
    """
    if profile.kind != "ssh":
        raise BadInputError(f"profile {profile.name!r} is local: there is nothing to install")
    temporary = REMOTE_AGENT[:-1] + '.tmp"'
    script = (
        f"mkdir -p {REMOTE_CACHE} && cat > {temporary} && mv {temporary} {REMOTE_AGENT} "
        f"&& cd {REMOTE_HOME} && pwd -P"
    )
    try:
        done = subprocess.run(
            [*ssh_base(profile), script],
            input=AGENT_FILE.read_bytes(),
            capture_output=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        raise DeviceUnreachableError(f"{profile.host}: no answer within {timeout:.0f} s") from None
    if done.returncode != 0:
        last = done.stderr.decode(errors="replace").strip().splitlines()
        raise DeviceUnreachableError(f"{profile.host}: {last[-1] if last else 'ssh failed'}")
    folder = done.stdout.decode(errors="replace").strip().splitlines()
    if not folder or not folder[-1].startswith("/"):
        raise DeviceUnreachableError(
            f"{profile.host}: the device did not say where it put the agent"
        )
    return folder[-1].rstrip("/") + "/agent.py"


def install_agent_for(catalog: Catalog, profile_name: str) -> Profile:
    """``modeldesk agent install``: copy agent.py to the device and remember where and what."""
    profile = get_profile(catalog, profile_name)
    where = install_agent(profile)
    return edit_profile(catalog, profile.name, agent_path=where, agent_sha256=agent_sha256())

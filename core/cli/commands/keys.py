"""``modeldesk key ...``: your signing key, and the keys a catalog trusts.

``key init``, ``show`` and ``export`` work on your own key (the user config folder, or
``MODELDESK_KEY``) and open no catalog; ``trust``, ``list``, ``revoke`` and
``export --trusted`` work on the catalog's trusted keys.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from modeldesk.cli.output import echo_json, echo_table
from modeldesk.cli.state import CliState, json_option

MAX_PASSPHRASE_FILE = 4096


def _passphrase(file: Path | None) -> bytes | None:
    if file is None:
        return None
    try:
        data = file.read_bytes()[: MAX_PASSPHRASE_FILE + 1]
    except OSError as error:
        raise click.BadParameter(
            f"{file}: {error.strerror}", param_hint="--passphrase-file"
        ) from None
    if len(data) > MAX_PASSPHRASE_FILE:
        raise click.BadParameter(
            f"{file}: too large for a passphrase", param_hint="--passphrase-file"
        )
    return data.rstrip(b"\r\n")


@click.group("key")
def key() -> None:
    """Signing keys: identities are keys, not login names."""


@key.command("init")
@click.option("--name", help="Your display name on signatures (default: your login name).")
@click.option(
    "--passphrase-file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="Encrypt the private key with the passphrase in this file.",
)
@json_option
def key_init(name: str | None, passphrase_file: Path | None, as_json: bool) -> None:
    """Create your signing key pair (ECDSA P-256) in the user config folder."""
    from modeldesk.catalog.store import current_actor
    from modeldesk.release.keys import init_key, key_folder

    created = init_key(name or current_actor(), passphrase=_passphrase(passphrase_file))
    if as_json:
        echo_json(
            {"name": created.name, "fingerprint": created.fingerprint, "folder": str(key_folder())}
        )
        return
    click.echo(f"created key {created.name} ({created.public.short}) in {key_folder()}")
    click.echo(f"fingerprint {created.fingerprint}")
    click.echo("give 'modeldesk key export --out FILE' to a release manager to be trusted")


@key.command("show")
@json_option
def key_show(as_json: bool) -> None:
    """Your public key's fingerprint."""
    from modeldesk.release.keys import own_public_key

    public = own_public_key()
    if as_json:
        echo_json({"fingerprint": public.fingerprint, "public_key": public.pem})
        return
    click.echo(public.fingerprint)


@key.command("export")
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    required=True,
    help="The file to write.",
)
@click.option(
    "--trusted",
    is_flag=True,
    help="Write the catalog's trusted keys (for 'modeldesk verify --keys').",
)
@click.pass_obj
def key_export(state: CliState, out: Path, trusted: bool) -> None:
    """Write your public key (PEM), or with --trusted the catalog's trusted keys (JSON)."""
    if out.exists():
        raise click.BadParameter(f"{out} exists; choose another file", param_hint="--out")
    if trusted:
        from modeldesk.release.trust import trusted_keys

        keys = [k.to_dict() for k in trusted_keys(state.catalog()).values()]
        out.write_text(json.dumps({"keys": keys}, indent=2) + "\n", encoding="utf-8")
        click.echo(f"wrote {len(keys)} trusted key(s) to {out}")
        return
    from modeldesk.release.keys import own_public_key

    public = own_public_key()
    out.write_text(public.pem, encoding="ascii")
    click.echo(f"wrote your public key ({public.short}) to {out}")


@key.command("trust")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--name", required=True, help="Whose key it is (a display name).")
@click.option(
    "--role",
    "roles",
    multiple=True,
    required=True,
    type=click.Choice(["engineer", "release-manager"]),
    help="A role the key holds (repeat for both).",
)
@json_option
@click.pass_obj
def key_trust(
    state: CliState, file: Path, name: str, roles: tuple[str, ...], as_json: bool
) -> None:
    """Trust the public key in FILE; signed by your key (a release manager's, or your own
    key first in a new catalog)."""
    from modeldesk.release.keys import load_signing_key, read_public_key
    from modeldesk.release.trust import trust_key

    trusted = trust_key(
        state.catalog(), load_signing_key(), read_public_key(file), name=name, roles=roles
    )
    if as_json:
        echo_json(trusted.to_dict())
        return
    click.echo(f"trusted {trusted.label} as {', '.join(trusted.roles)}")


@key.command("list")
@json_option
@click.pass_obj
def key_list(state: CliState, as_json: bool) -> None:
    """The keys this catalog trusts (revoked ones marked)."""
    from modeldesk.release.trust import trusted_keys

    keys = list(trusted_keys(state.catalog()).values())
    if as_json:
        echo_json([k.to_dict() for k in keys])
        return
    echo_table(
        ["name", "fingerprint", "roles", "trusted", "revoked"],
        [
            [
                k.name,
                k.public.short,
                ", ".join(k.roles),
                k.trusted_at[:19],
                f"{k.revoked_at[:19]}: {k.revoke_reason}" if k.revoked_at else "-",
            ]
            for k in keys
        ],
    )


@key.command("revoke")
@click.argument("fingerprint")
@click.option("--reason", required=True, help="Why the key is revoked.")
@click.pass_obj
def key_revoke(state: CliState, fingerprint: str, reason: str) -> None:
    """Revoke a trusted key; signed by your (release manager's) key."""
    from modeldesk.release.keys import load_signing_key
    from modeldesk.release.trust import revoke_key

    revoked = revoke_key(state.catalog(), load_signing_key(), fingerprint, reason=reason)
    click.echo(f"revoked {revoked.label}: {revoked.revoke_reason}")


COMMANDS = [key]

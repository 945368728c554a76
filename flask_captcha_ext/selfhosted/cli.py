"""``flask captcha keys create|list|revoke``: manage the site keys of the self-hosted service."""

from __future__ import annotations

import time
from typing import Tuple
from urllib.parse import urlsplit

import click
from flask.cli import AppGroup

from .service import normalize_origin

captcha_cli = AppGroup("captcha", help="Manage flask-captcha-ext.")


@captcha_cli.group("keys")
def keys() -> None:
    """Create, list and revoke site keys."""


def _registry():  # type: ignore[no-untyped-def]
    from ..state import get_state

    return get_state().service.site_keys


def _origin(value: str) -> str:
    """``value`` as the service compares origins (``normalize_origin``), or a usage error."""
    parts = urlsplit(value.strip())
    origin = normalize_origin(value)
    if origin is None or parts.username or parts.password or parts.path not in ("", "/") or (
        parts.query or parts.fragment
    ):
        raise click.BadParameter(f"{value!r} is not an origin such as https://example.com")
    return origin


@keys.command("create")
@click.option("--name", required=True, help="What the key is for (shown in listings).")
@click.option(
    "--origin", "origins", multiple=True, help="Browser origin allowed to use the key (repeatable)."
)
def create(name: str, origins: Tuple[str, ...]) -> None:
    """Create a site key; its secret is printed once and only its hash is kept."""
    normalized = tuple(_origin(o) for o in origins)
    site_key, secret, record = _registry().create(name.strip(), normalized)
    click.echo(f"site key:   {site_key}")
    click.echo(f"secret:     {secret}")
    click.echo(f"id:         {record.id}")
    click.echo("Store both now: neither can be shown again.")


@keys.command("list")
def list_keys() -> None:
    """List site keys (ids, names, origins, state); keys and secrets are never shown."""
    for record in _registry().list():
        created = "-" if record.builtin else time.strftime("%Y-%m-%d", time.gmtime(record.created))
        state = "revoked" if record.revoked else "active"
        origins = ",".join(record.origins) or "*"
        click.echo(f"{record.id}  {state:7}  {created:10}  {origins}  {record.name}")


@keys.command("revoke")
@click.argument("key_id")
def revoke(key_id: str) -> None:
    """Revoke the key with KEY_ID (or a unique prefix of at least 6 characters)."""
    record = _registry().revoke(key_id)
    if record is None:
        raise click.ClickException(f"no single revocable key matches {key_id!r}")
    click.echo(f"revoked {record.id} ({record.name})")

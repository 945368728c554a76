"""``flask captcha keys create|list|revoke``: manage the site keys of the self-hosted service;
``flask captcha epoch [--new]``: show the store's epoch, or begin a new one after restoring a
backup of the store."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Optional, Tuple
from urllib.parse import urlsplit

import click
from flask.cli import AppGroup

from ..settings import CHALLENGE_TYPES, ConfigError, challenge_types
from ..state import get_state
from .service import normalize_origin, parse_limits
from .sitekeys import SiteKeyRegistry

captcha_cli = AppGroup("captcha", help="Manage flask-captcha-ext.")


@captcha_cli.group("keys")
def keys() -> None:
    """Create, list and revoke site keys."""


def _registry() -> SiteKeyRegistry:
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


def _types(value: str) -> Tuple[str, ...]:
    """``--types`` as a tuple (empty: the app's types), or a usage error; a key can only narrow
    CAPTCHA_CHALLENGE_TYPES."""
    if not value.strip():
        return ()
    try:
        types = challenge_types(value, "--types")
    except ConfigError as exc:
        raise click.BadParameter(str(exc)) from None
    allowed = get_state().settings.challenge_types
    if any(t not in allowed for t in types):
        raise click.BadParameter(
            f"--types may only narrow CAPTCHA_CHALLENGE_TYPES ({', '.join(allowed)})"
        )
    return types


def _limit(value: Optional[str], option: str) -> Optional[str]:
    """A quota option as given (checked to parse), or None for the app's default."""
    if value is None:
        return None
    try:
        parse_limits(value)
    except ValueError:
        raise click.BadParameter(
            f"{option} must be a rate limit such as 500/hour, or none"
        ) from None
    return value.strip()


@keys.command("create")
@click.option("--name", required=True, help="What the key is for (shown in listings).")
@click.option(
    "--origin", "origins", multiple=True, help="Browser origin allowed to use the key (repeatable)."
)
@click.option(
    "--types",
    "types",
    default="",
    help=f"Challenge types the key may get and pass, comma-separated "
    f"({', '.join(CHALLENGE_TYPES)}); default: CAPTCHA_CHALLENGE_TYPES.",
)
@click.option(
    "--generate-limit",
    default=None,
    help="This key's generate quota, e.g. '500/hour' or 'none'; default: "
    "CAPTCHA_RATE_LIMIT_GENERATE.",
)
@click.option(
    "--validate-limit",
    default=None,
    help="This key's validate quota, e.g. '1000/hour' or 'none'; default: "
    "CAPTCHA_RATE_LIMIT_VALIDATE.",
)
def create(
    name: str,
    origins: Tuple[str, ...],
    types: str,
    generate_limit: Optional[str],
    validate_limit: Optional[str],
) -> None:
    """Create a site key; its secret is printed once and only its hash is kept."""
    normalized = tuple(_origin(o) for o in origins)
    site_key, secret, record = _registry().create(
        name.strip(),
        normalized,
        _types(types),
        _limit(generate_limit, "--generate-limit"),
        _limit(validate_limit, "--validate-limit"),
    )
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
        types = ",".join(record.types) or "(app default)"
        click.echo(f"{record.id}  {state:7}  {created:10}  {origins}  {types}  {record.name}")


@keys.command("revoke")
@click.argument("key_id")
def revoke(key_id: str) -> None:
    """Revoke the key with KEY_ID (or a unique prefix of at least 6 characters)."""
    record = _registry().revoke(key_id)
    if record is None:
        raise click.ClickException(f"no single revocable key matches {key_id!r}")
    click.echo(f"revoked {record.id} ({record.name})")


@captcha_cli.command("epoch")
@click.option(
    "--new",
    "begin",
    is_flag=True,
    help="Begin a new epoch: every token and challenge issued before is refused. Run it after "
    "restoring a backup of the store into a running store.",
)
def epoch(begin: bool) -> None:
    """Show the store's epoch (what single use rests on), or begin a new one."""
    store = get_state().store
    current = store.begin_epoch() if begin else store.epoch(fresh=True)
    began = datetime.fromtimestamp(current.began, tz=timezone.utc).isoformat(timespec="seconds")
    verb = "began a new epoch" if begin else "epoch"
    click.echo(f"{verb} {current.id} (since {began.replace('+00:00', 'Z')})")
    if begin:
        click.echo("Tokens and challenges issued before are refused; visitors solve again.")

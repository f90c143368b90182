"""The relay's own configuration file: one `[relay]` table, checked like the daemon's config.

The relay box is not a satellite: it has its own file (default ``/etc/edge-agent/relay.toml``,
``--config PATH`` or ``$EDGE_AGENT_RELAY_CONFIG``) parsed by the same checker as
``edge_agent.config``, so every problem names the file, the key, the value and what is expected,
and the CLI exits 78. The real OpenAI key is never in the file: it comes, in this order, from
``$CREDENTIALS_DIRECTORY/openai_api_key`` (systemd ``LoadCredential=``), ``relay.api_key_file``
or ``$OPENAI_API_KEY`` — the daemon's lookup.
"""

from __future__ import annotations

import ipaddress
import os
import ssl
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal
from urllib.parse import urlsplit

from edge_agent.config import CREDENTIAL_NAME, Secret, _f, _Parser, _read_secret_file, _req
from edge_agent.errors import ConfigError

__all__ = [
    "DEFAULT_RELAY_CONFIG",
    "LoadedRelayConfig",
    "RelayConfig",
    "SatelliteLimits",
    "is_loopback",
    "load_relay_config",
    "parse_relay_config",
    "tls_context",
]

DEFAULT_RELAY_CONFIG: Final = Path("/etc/edge-agent/relay.toml")


@dataclass(frozen=True, slots=True)
class SatelliteLimits:
    """[[relay.satellites]]: one satellite's own budget and models, instead of the relay's."""

    name: str = _req("the satellite's name, as given to `edge-agent relay add-satellite`")
    daily_usd: float = _f(
        -1.0, "its spend cap per day (-1 = relay.satellite_daily_usd, 0 = none)", min=-1.0
    )
    monthly_usd: float = _f(
        -1.0, "its spend cap per month (-1 = relay.satellite_monthly_usd, 0 = none)", min=-1.0
    )
    models: tuple[str, ...] = _f((), "models it may get, from relay.models (empty = all of them)")


@dataclass(frozen=True, slots=True)
class RelayConfig:
    """[relay]: the home relay that holds the one API key and mints client secrets."""

    listen: str = _f("127.0.0.1", "address to listen on ('0.0.0.0' or '::' for the whole LAN)")
    port: int = _f(8443, "TCP port (0 = any free port)", min=0, max=65535)
    tls_cert_file: str = _f(
        "",
        "PEM certificate (chain) served to satellites; empty = plain HTTP (see allow_plain_http)",
    )
    tls_key_file: str = _f("", "PEM private key of tls_cert_file")
    allow_plain_http: bool = _f(
        False,
        "serve plain HTTP on a non-loopback address (satellite tokens and secrets cross the LAN "
        "in clear: a trusted wired network only); plain HTTP on loopback needs no opt-in",
    )
    state_dir: str = _f(
        "/var/lib/edge-agent-relay",
        "satellite tokens (hashed) and usage totals (systemd StateDirectory)",
    )
    api_key_file: str = _f(
        "",
        "file holding the OpenAI API key (after $CREDENTIALS_DIRECTORY/openai_api_key, before "
        "$OPENAI_API_KEY)",
    )
    upstream_url: str = _f(
        "https://api.openai.com/v1/realtime/client_secrets",
        "where client secrets are minted (https; http only on loopback, for the emulator)",
    )
    upstream_timeout_s: float = _f(10.0, "cap on one mint upstream", min=1.0, max=60.0)
    models: tuple[str, ...] = _f(
        ("gpt-realtime-2.1", "gpt-realtime-2.1-mini"),
        "models a satellite may get; the first when it names none",
    )
    max_output_tokens: int = _f(
        1024, "pinned into every minted session: cap on tokens per reply", min=1, max=32768
    )
    secret_ttl_s: int = _f(
        600, "lifetime of a minted secret (it gates new connections only)", min=10, max=7200
    )
    satellite_daily_usd: float = _f(
        0.0, "spend cap per satellite per local day (0 = none)", min=0.0
    )
    satellite_monthly_usd: float = _f(0.0, "spend cap per satellite per month (0 = none)", min=0.0)
    household_daily_usd: float = _f(0.0, "spend cap of all satellites per day (0 = none)", min=0.0)
    household_monthly_usd: float = _f(
        0.0, "spend cap of all satellites per month (0 = none)", min=0.0
    )
    max_mints_per_day: int = _f(
        0,
        "secrets per satellite per day (0 = no cap): a backstop that holds even when a "
        "satellite does not report its usage",
        min=0,
    )
    requests_per_minute: int = _f(
        6, "secrets a satellite may ask for per minute (token bucket)", min=1, max=600
    )
    max_report_usd: float = _f(
        2.0, "largest cost one usage report may carry (a bigger one is refused)", min=0.01
    )
    max_connections: int = _f(64, "open client connections at once", min=1, max=4096)
    satellites: tuple[SatelliteLimits, ...] = _f(
        (), "per-satellite budgets and models, as [[relay.satellites]] tables"
    )
    log_level: Literal["debug", "info", "warning", "error"] = _f(
        "info", "log level; --log-level overrides it"
    )


@dataclass(frozen=True, slots=True)
class _RelayFile:
    relay: RelayConfig = RelayConfig()


@dataclass(frozen=True, slots=True)
class LoadedRelayConfig:
    """The parsed file plus what was resolved from outside it (never shown)."""

    relay: RelayConfig
    api_key: Secret
    source: str


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def load_relay_config(
    explicit: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    *,
    require_api_key: bool = True,
) -> LoadedRelayConfig:
    """Read and check the relay's file. A missing default file means all defaults.

    Raises:
        ConfigError: one message per problem; the CLI exits 78.
    """
    env = os.environ if env is None else env
    given = explicit or env.get("EDGE_AGENT_RELAY_CONFIG")
    path = Path(given) if given else DEFAULT_RELAY_CONFIG
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if given:
            raise ConfigError(
                f"{path}: file not found; create it from the example "
                "(`edge-agent relay example > FILE`) or fix --config/$EDGE_AGENT_RELAY_CONFIG"
            ) from None
        text = ""
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"{path}: cannot read: {exc.__class__.__name__}; make it a UTF-8 text file "
            "readable by the user the relay runs as"
        ) from None
    return parse_relay_config(text, source=str(path), env=env, require_api_key=require_api_key)


def parse_relay_config(
    text: str,
    *,
    source: str = "<string>",
    env: Mapping[str, str] | None = None,
    require_api_key: bool = True,
) -> LoadedRelayConfig:
    """Parse TOML text into a `LoadedRelayConfig`; see `load_relay_config`."""
    env = {} if env is None else env
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: invalid TOML: {exc}; fix the syntax there") from None
    errors: list[str] = []
    parsed = _Parser(source, errors).dataclass(_RelayFile, data, "")
    if parsed is None or parsed.relay is None:
        raise ConfigError(errors or [f"{source}: expected a [relay] table"])
    cfg: RelayConfig = parsed.relay  # the valid keys, so their checks run with the others
    _check(cfg, source, errors)
    api_key = _resolve_api_key(cfg, env, source, errors)
    if require_api_key and not api_key:
        errors.append(
            f"{source}: no OpenAI API key: put it in $CREDENTIALS_DIRECTORY/{CREDENTIAL_NAME} "
            "(systemd LoadCredential), set relay.api_key_file, or export OPENAI_API_KEY"
        )
    if errors:
        raise ConfigError(errors)
    return LoadedRelayConfig(cfg, api_key, source)


def _check(cfg: RelayConfig, source: str, errors: list[str]) -> None:
    tls = bool(cfg.tls_cert_file or cfg.tls_key_file)
    if bool(cfg.tls_cert_file) != bool(cfg.tls_key_file):
        missing = "relay.tls_key_file" if cfg.tls_cert_file else "relay.tls_cert_file"
        errors.append(f"{source}: {missing}: missing; TLS needs both a certificate and its key")
    elif tls:
        try:
            tls_context(cfg)
        except (OSError, ssl.SSLError) as exc:
            errors.append(
                f"{source}: relay.tls_cert_file = {cfg.tls_cert_file!r}: cannot load it with "
                f"relay.tls_key_file: {getattr(exc, 'strerror', None) or exc.__class__.__name__}; "
                "expected PEM files readable by the relay's user"
            )
    if not tls and not cfg.allow_plain_http and not is_loopback(cfg.listen):
        errors.append(
            f"{source}: relay.listen = {cfg.listen!r}: plain HTTP on a non-loopback address; "
            "expected relay.tls_cert_file and relay.tls_key_file (docs/relay.md: TLS), or "
            "allow_plain_http = true on a trusted wired LAN"
        )
    url = urlsplit(cfg.upstream_url)
    if url.scheme != "https" and not (url.scheme == "http" and is_loopback(url.hostname or "")):
        errors.append(
            f"{source}: relay.upstream_url = {cfg.upstream_url!r}: expected an https:// URL "
            "(http:// only on loopback, for the emulator)"
        )
    if not cfg.models or any(not m.strip() or len(m) > 64 for m in cfg.models):
        errors.append(f"{source}: relay.models = {list(cfg.models)!r}: expected model names")
    seen: set[str] = set()
    for i, sat in enumerate(cfg.satellites):
        if sat.name in seen:
            errors.append(f"{source}: relay.satellites[{i}].name = {sat.name!r}: listed twice")
        seen.add(sat.name)
        stray = [m for m in sat.models if m not in cfg.models]
        if stray:
            errors.append(
                f"{source}: relay.satellites[{i}].models = {list(sat.models)!r}: {stray[0]!r} "
                f"is not in relay.models; expected some of {list(cfg.models)!r}"
            )


def tls_context(cfg: RelayConfig) -> ssl.SSLContext:
    """The server-side TLS context (TLS 1.2+), or raises OSError/ssl.SSLError."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cfg.tls_cert_file, cfg.tls_key_file)
    return ctx


def _resolve_api_key(
    cfg: RelayConfig, env: Mapping[str, str], source: str, errors: list[str]
) -> Secret:
    cred_dir = env.get("CREDENTIALS_DIRECTORY")
    if cred_dir and (Path(cred_dir) / CREDENTIAL_NAME).is_file():
        return Secret(
            _read_secret_file(Path(cred_dir) / CREDENTIAL_NAME, "credential", source, errors)
        )
    if cfg.api_key_file:
        return Secret(
            _read_secret_file(Path(cfg.api_key_file), "relay.api_key_file", source, errors)
        )
    return Secret(env.get("OPENAI_API_KEY", "").strip())

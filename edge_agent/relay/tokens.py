"""Satellite tokens: made once, shown once, stored only as salted SHA-256 digests.

A token is ``eas_<id>_<secret>``: `id` (8 hex digits) finds the satellite's record without
trying every digest, `secret` is 32 random bytes (256 bits, base64url). With that much entropy a
slow password hash (scrypt) buys nothing against guessing and would cost the relay's CPU per
request, so the digest is SHA-256 over a per-token 16-byte salt and the token, compared with
`hmac.compare_digest`. An unknown id still pays for one digest, so timing tells nothing.

`Registry` is pure: it maps names to `Satellite` records and turns to and from JSON; the file
I/O is in `store.py`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any, Final

__all__ = ["NAME_RE", "Registry", "Satellite", "TokenCheck", "digest", "new_token"]

NAME_RE: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
_TOKEN_RE: Final = re.compile(r"^eas_([0-9a-f]{8})_([A-Za-z0-9_-]{43})$")
_DUMMY_SALT: Final = bytes(16)


@dataclass(frozen=True, slots=True)
class Satellite:
    """One satellite's record; `digest` is hex SHA-256(salt + token)."""

    name: str
    token_id: str
    salt: str
    digest: str
    created_at: str
    revoked_at: str = ""

    @property
    def revoked(self) -> bool:
        return bool(self.revoked_at)


@dataclass(frozen=True, slots=True)
class TokenCheck:
    """The outcome of `Registry.verify`: a satellite, or why not (a word fit for a log line)."""

    satellite: Satellite | None
    reason: str  # "ok" | "missing" | "malformed" | "unknown" | "revoked"


def digest(salt: bytes, token: str) -> str:
    return hashlib.sha256(salt + token.encode()).hexdigest()


def new_token() -> tuple[str, str]:
    """(token_id, token)."""
    token_id = secrets.token_hex(4)
    return token_id, f"eas_{token_id}_{secrets.token_urlsafe(32)}"


class Registry:
    """The satellites, by name. Methods that change it return a new Registry."""

    def __init__(self, satellites: Mapping[str, Satellite] | None = None) -> None:
        self._by_name = dict(satellites or {})
        self._by_id = {s.token_id: s for s in self._by_name.values()}

    def __iter__(self) -> Iterator[Satellite]:
        return iter(sorted(self._by_name.values(), key=lambda s: s.name))

    def __len__(self) -> int:
        return len(self._by_name)

    def get(self, name: str) -> Satellite | None:
        return self._by_name.get(name)

    def add(self, name: str, created_at: str) -> tuple[Registry, str]:
        """A new satellite (or a new token for a revoked one): (registry, token shown once).

        Raises:
            ValueError: a bad name, or a satellite of that name that is not revoked.
        """
        if not NAME_RE.match(name):
            raise ValueError(
                f"satellite name {name!r}: expected 1-32 of a-z, 0-9, '-' and '_', starting "
                "with a letter or digit"
            )
        old = self._by_name.get(name)
        if old is not None and not old.revoked:
            raise ValueError(
                f"satellite {name!r} exists; `edge-agent relay revoke {name}` first to give it "
                "a new token"
            )
        while True:
            token_id, token = new_token()
            if token_id not in self._by_id:
                break
        salt = secrets.token_bytes(16)
        sat = Satellite(name, token_id, salt.hex(), digest(salt, token), created_at)
        return Registry({**self._by_name, name: sat}), token

    def revoke(self, name: str, revoked_at: str) -> Registry:
        """Raises KeyError: no such satellite."""
        sat = self._by_name[name]
        if sat.revoked:
            return self
        return Registry({**self._by_name, name: replace(sat, revoked_at=revoked_at)})

    def verify(self, token: str | None) -> TokenCheck:
        """Which satellite `token` belongs to, in time independent of where it failed."""
        if not token:
            digest(_DUMMY_SALT, "")
            return TokenCheck(None, "missing")
        match = _TOKEN_RE.match(token)
        sat = self._by_id.get(match.group(1)) if match else None
        salt = bytes.fromhex(sat.salt) if sat else _DUMMY_SALT
        expected = sat.digest if sat else "0" * 64
        same = hmac.compare_digest(digest(salt, token), expected)
        if not match:
            return TokenCheck(None, "malformed")
        if sat is None or not same:
            return TokenCheck(None, "unknown")
        if sat.revoked:
            return TokenCheck(None, "revoked")
        return TokenCheck(sat, "ok")

    # -- JSON ---------------------------------------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        return {
            "version": 1,
            "satellites": [
                {
                    "name": s.name,
                    "token_id": s.token_id,
                    "salt": s.salt,
                    "sha256": s.digest,
                    "created_at": s.created_at,
                    "revoked_at": s.revoked_at,
                }
                for s in self
            ],
        }

    @classmethod
    def from_json(cls, data: object) -> Registry:
        """Raises ValueError on anything but what `to_json` writes."""
        if not isinstance(data, dict) or data.get("version") != 1:
            raise ValueError('expected {"version": 1, "satellites": [...]}')
        items = data.get("satellites")
        if not isinstance(items, list):
            raise ValueError('expected a "satellites" list')
        out: dict[str, Satellite] = {}
        for item in items:
            if not isinstance(item, dict):
                raise ValueError("expected satellite records")
            try:
                sat = Satellite(
                    name=item["name"],
                    token_id=item["token_id"],
                    salt=item["salt"],
                    digest=item["sha256"],
                    created_at=item["created_at"],
                    revoked_at=item.get("revoked_at", ""),
                )
            except KeyError as exc:
                raise ValueError(f"a satellite record has no {exc.args[0]!r}") from None
            fields = (sat.name, sat.token_id, sat.salt, sat.digest, sat.created_at, sat.revoked_at)
            if not all(isinstance(v, str) for v in fields) or not NAME_RE.match(sat.name):
                raise ValueError("a satellite record has a bad field")
            if not re.fullmatch(r"[0-9a-f]{8}", sat.token_id) or len(sat.digest) != 64:
                raise ValueError(f"satellite {sat.name!r}: bad token id or digest")
            bytes.fromhex(sat.salt)
            out[sat.name] = sat
        return cls(out)

"""API keys: issued as `sk_<id>_<secret>`, stored as a salted HMAC of the secret, checked in
constant time, each with scopes.

Only the key's id and the hash of its secret are stored, so a copy of the store does not
give anyone access. A key given to the process from outside (the admin key in the
environment) may be any string of at least 16 characters; its id is derived from it.
"""

import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from sourcing_engine.errors import Conflict, Invalid
from sourcing_engine.stores.base import ApiKey, Store

SCOPES = ("promise", "orders", "inventory", "planning", "admin")
"""promise: checkout holds; orders: order lifecycle and events; inventory: network and
stock; planning: what-if and batch planning; admin: API keys (and everything else)."""

PREFIX = "sk"
_FORMAT = re.compile(r"^sk_([0-9a-f]{16})_([A-Za-z0-9_-]{20,})$")
MIN_EXTERNAL_KEY = 16
ENVIRONMENT_KEY_NAME = "admin (SOURCING_ENGINE_ADMIN_KEY)"
"""The name the admin key from the environment is installed under: installing a key under
this name revokes the one installed before it (a rotated key stops working), and the API
never revokes it (the environment owns it)."""


@dataclass(frozen=True)
class IssuedKey:
    """A newly created key: the record, and the token shown once and never stored."""

    key: ApiKey
    token: str


def _hash(salt: bytes, secret: str) -> str:
    digest = hmac.new(salt, secret.encode(), hashlib.sha256).hexdigest()
    return f"hmac-sha256${salt.hex()}${digest}"


def _matches(stored: str, secret: str) -> bool:
    try:
        scheme, salt_hex, digest = stored.split("$")
        salt = bytes.fromhex(salt_hex)
    except ValueError:
        return False
    if scheme != "hmac-sha256":
        return False
    expected = hmac.new(salt, secret.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, digest)


def split_token(token: str) -> tuple[str, str]:
    """(key id, secret) of a token; tokens not of our format are external keys whose id is
    derived from the token itself."""
    m = _FORMAT.match(token)
    if m:
        return m.group(1), m.group(2)
    return "ext" + hashlib.sha256(token.encode()).hexdigest()[:13], token


def check_scopes(scopes: Sequence[str]) -> tuple[str, ...]:
    """The scopes, each once; Invalid naming any that is unknown."""
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown or not scopes:
        raise Invalid(
            "scopes: expected one or more of "
            + ", ".join(SCOPES)
            + (f" (unknown: {', '.join(unknown)})" if unknown else "")
        )
    return tuple(dict.fromkeys(scopes))


def issue(store: Store, name: str, scopes: Sequence[str], key_id: str | None = None) -> IssuedKey:
    """Create a key with a random secret (and id, unless given: 16 hex digits); the token
    is returned once. Conflict if the id exists."""
    checked = check_scopes(scopes)
    key_id = key_id or secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    record = store.create_api_key(key_id, name, _hash(secrets.token_bytes(16), secret), checked)
    return IssuedKey(record, f"{PREFIX}_{key_id}_{secret}")


def install(store: Store, token: str, name: str, scopes: Sequence[str]) -> ApiKey:
    """Register a key given from outside (the admin key in the environment), replacing the
    keys installed before under the same name (a rotated key stops working).

    Idempotent across restarts and worker processes: the same token keeps its key.
    """
    if len(token) < MIN_EXTERNAL_KEY:
        raise Invalid(f"{name}: an API key must have at least {MIN_EXTERNAL_KEY} characters")
    key_id, secret = split_token(token)
    for _ in range(2):  # a twin worker may create it between our look and our write
        found = store.find_api_key(key_id)
        if found is not None:
            key, stored = found
            if not _matches(stored, secret) or key.revoked:
                raise Conflict(f"{name}: key id {key_id} exists with another secret or revoked")
            break
        try:
            key = store.create_api_key(
                key_id, name, _hash(secrets.token_bytes(16), secret), check_scopes(scopes)
            )
            break
        except Conflict:
            continue
    else:
        raise Conflict(f"{name}: key id {key_id} could not be installed")
    for other in store.list_api_keys():
        if other.name == name and other.id != key_id and not other.revoked:
            store.revoke_api_key(other.id)
    return key


def verify(store: Store, token: str) -> ApiKey | None:
    """The key a token stands for, or None (unknown, wrong secret or revoked)."""
    key_id, secret = split_token(token)
    found = store.find_api_key(key_id)
    if found is None:
        # hash anyway so an unknown id takes as long as a wrong secret
        _matches(_hash(b"\0" * 16, ""), secret)
        return None
    key, stored = found
    if not _matches(stored, secret) or key.revoked:
        return None
    return key


def allows(key: ApiKey, scope: str) -> bool:
    """admin holds every scope."""
    return scope in key.scopes or "admin" in key.scopes

"""Standard Webhooks signatures (https://www.standardwebhooks.com/, as Svix and Stripe sign).

The secret is "whsec_" + base64 of 24 random bytes; a delivery carries the headers
webhook-id, webhook-timestamp (UNIX seconds) and webhook-signature "v1,<base64 of
HMAC-SHA256(key, f"{id}.{timestamp}." + body)>". A receiver recomputes it, compares in
constant time and refuses a timestamp too far from its clock (replayed requests).
"""

import base64
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"
TOLERANCE_S = 300


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return (
        "v1," + base64.b64encode(hmac.new(_key(secret), signed, hashlib.sha256).digest()).decode()
    )


def headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The headers of one delivery attempt (a retry is signed again with its own time)."""
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, msg_id, timestamp, body),
    }


def verify(secret: str, headers: dict[str, str], body: bytes, now: float) -> bool:
    """Whether a delivery is signed with secret and timed within TOLERANCE_S of now (the
    signature header may hold several space-separated signatures, during a key rotation)."""
    try:
        timestamp = int(headers["webhook-timestamp"])
        expected = signature(secret, headers["webhook-id"], timestamp, body)
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > TOLERANCE_S:
        return False
    return any(hmac.compare_digest(expected, s) for s in headers["webhook-signature"].split())

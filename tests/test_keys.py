"""The installation key is checked as Fernet checks it, without loading cryptography."""

from __future__ import annotations

import base64

import pytest
from cryptography.fernet import Fernet

from hookline.run.keys import InstallationKey, check_key, new_key

GOOD = Fernet.generate_key().decode()
KEYS: list[str | bytes] = [
    GOOD,
    GOOD.encode(),
    new_key().decode(),
    GOOD[:-1],  # unpadded
    f" {GOOD}\n",
    GOOD + "=",
    GOOD.replace("=", "A"),
    GOOD[:-2] + "B=",
    GOOD[:-1] + "==",
    base64.urlsafe_b64encode(b"x" * 31).decode(),
    base64.urlsafe_b64encode(b"x" * 33).decode(),
    base64.b64encode(bytes(range(200, 232))).decode(),  # not url-safe
    "not a key",
    "",
    "é" * 44,
]


@pytest.mark.parametrize("key", KEYS)
def test_a_key_is_accepted_exactly_when_fernet_accepts_it(key: str | bytes) -> None:
    try:
        Fernet(key)
    except ValueError:
        with pytest.raises(ValueError):
            check_key(key)
    else:
        check_key(key)


def test_a_new_key_seals_and_opens() -> None:
    key = InstallationKey(new_key())
    assert key.open(key.seal(b"session")) == b"session"
    assert InstallationKey(new_key()).open(key.seal(b"session")) is None

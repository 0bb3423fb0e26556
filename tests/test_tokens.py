"""Session tokens: a JWT's expiry, and RFC 6238 one-time codes (also as ``totp()``)."""

from __future__ import annotations

import base64

import pytest

from hookline.errors import ExpressionError
from hookline.http.auth.tokens import jwt_expiry, totp_code
from hookline.spec.catalog import Catalog
from tests.servers import TOTP_SECRET


@pytest.mark.parametrize(
    ("moment", "code"),
    [
        (59, "94287082"),
        (1111111109, "07081804"),
        (1234567890, "89005924"),
        (20000000000, "65353130"),
    ],
)
def test_totp_matches_the_rfc_6238_vectors(moment: int, code: str) -> None:
    secret = base64.b32encode(b"12345678901234567890").decode()
    assert totp_code(secret, at=moment, digits=8) == code
    assert totp_code(secret.lower(), at=moment, digits=6) == code[2:]


def test_totp_is_an_expression_function(catalog: Catalog) -> None:
    template = catalog.expressions.compile("{{ totp(secret) }}")
    assert template.render({"secret": TOTP_SECRET}) == totp_code(TOTP_SECRET)
    with pytest.raises(ExpressionError, match="not base32"):
        template.render({"secret": "not base32!"})


def test_jwt_expiry_reads_exp_without_verifying() -> None:
    payload = base64.urlsafe_b64encode(b'{"exp": 1700000000}').decode().rstrip("=")
    assert jwt_expiry(f"h.{payload}.sig") == 1700000000
    assert jwt_expiry("not-a-jwt") is None
    assert jwt_expiry("a.!!!.b") is None

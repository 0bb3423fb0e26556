"""The ``acme_ref`` expression function: a ticket's number as people see it, ``ACME-001007``."""

from __future__ import annotations

from typing import Any

from hookline import ExpressionError, ExpressionFunction


def acme_ref(number: Any) -> str:
    """``ACME-`` and the ticket number in six digits; a number that is not whole is an error."""
    if isinstance(number, bool) or not float(number).is_integer() or number < 0:
        raise ExpressionError(f"acme_ref() takes a ticket number, a whole number; got {number!r}")
    return f"ACME-{int(number):06d}"


FUNCTIONS = [
    ExpressionFunction(
        "acme_ref",
        acme_ref,
        (("number",),),
        "A ticket's reference as Acme shows it: ACME- and its number in six digits.",
    )
]

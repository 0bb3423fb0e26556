"""An action's output: the records a page holds, and the check against the output schema.

``output.records`` finds a list action's records in each page's body; ``select`` reshapes
the output (each record, for a list) and the result is checked against ``output.schema``. A
mismatch is an ``InvalidResponseError`` naming the field, or an ``OutputMismatchWarning``
where the spec says ``strict: false``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hookline.actions.inputs import field_name, shortened
from hookline.documents.schema_errors import kind_of
from hookline.errors import InvalidResponseError
from hookline.expr.templates import Expression
from hookline.http.responses import ErrorContext
from hookline.spec.model import Action, Spec

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError  # type: ignore[import-untyped, unused-ignore]


class OutputMismatchWarning(UserWarning):
    """An action's output does not match its output schema, and the spec says ``strict: false``."""


@dataclass(frozen=True, slots=True)
class OutputCheck:
    """One action's output schema, and what a mismatch is: an error, or a warning."""

    validator: Any
    strict: bool
    errors: ErrorContext

    @classmethod
    def of(
        cls, spec: Spec, action: Action, errors: ErrorContext, *, strict: bool | None = None
    ) -> OutputCheck | None:
        """The check of ``action``'s output (of each record, for a list); None without a schema.

        ``strict`` overrides the spec's ``output.strict``.
        """
        schema = action.output.schema
        if schema is None:
            return None
        from jsonschema import Draft202012Validator  # type: ignore[import-untyped, unused-ignore]

        validator = Draft202012Validator(spec.schema_with_objects(schema))
        return cls(validator, action.output.strict if strict is None else strict, errors)

    def __call__(self, value: Any, where: str = "") -> None:
        """Raise or warn, as the spec says, when ``value`` does not match the schema.

        ``where`` names the value in the message when it is not the whole output:
        ``record 3``, ``the lookup's match``.
        """
        if self.validator.is_valid(value):
            return
        errors = sorted(self.validator.iter_errors(value), key=lambda e: list(e.absolute_path))
        detail = "; ".join(_problem(error) for error in errors[:5])
        named = f"{where}: " if where else ""
        message = f"{self.errors.where}: {named}the output does not match its schema: {detail}"
        if not self.strict:
            warnings.warn(message, OutputMismatchWarning, stacklevel=4)
            return
        raise self.errors.error(InvalidResponseError, message)


def page_records(
    expression: Expression, data: Any, errors: ErrorContext, *, required: bool = False
) -> list[Any]:
    """The records in one page's body, as the spec's ``records`` expression finds them.

    Nothing found is no records, unless ``required``; anything but a list is an
    ``InvalidResponseError``.
    """
    found = expression.search(data)
    if found is None and required:
        raise errors.error(
            InvalidResponseError,
            f"{errors.where}: output.records {expression.source!r} found nothing in the "
            "response, where the platform's answers hold a list",
        )
    if found is None:
        return []
    if not isinstance(found, list):
        raise errors.error(
            InvalidResponseError,
            f"{errors.where}: output.records {expression.source!r} found "
            f"{kind_of(found)} in the response, expected a list",
        )
    return found


def _problem(error: ValidationError) -> str:
    where = field_name(error.absolute_path)
    return f"field {where!r}: {shortened(error.message)}" if where else shortened(error.message)

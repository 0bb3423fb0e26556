"""hookline: declarative YAML connectors, recipes and a runner for security and operations.

What plugin authors and embedders may import is re-exported here and listed in ``__all__``.

Names resolve on first use (PEP 562), so ``import hookline`` and a command that needs
little import little; ``from hookline import X`` works as for an eager module.
"""

import typing as _typing

if _typing.TYPE_CHECKING:
    from hookline.actions.call import call_action, iter_records
    from hookline.actions.pages import Page, PageSource
    from hookline.documents.compiler import Compiler
    from hookline.errors import (
        ActionError,
        AuthenticationError,
        ConfigurationError,
        ExpressionError,
        HooklineError,
        InvalidDocumentError,
        InvalidRequestError,
        InvalidResponseError,
        NotFoundError,
        OutcomeUnknownError,
        PermissionDeniedError,
        PluginError,
        Problem,
        RateLimitedError,
        RateLimitWaitError,
        RecipeError,
        ResponseTooLargeError,
        ServerError,
        SpecError,
        SpecFormatError,
        TransportError,
        UnsafeRequestError,
    )
    from hookline.expr.templates import CompiledValue, Expressions
    from hookline.http.auth.static import AuthTarget
    from hookline.http.connection import Connection
    from hookline.plugins.hookspecs import hookimpl
    from hookline.plugins.manager import get_plugin_manager
    from hookline.plugins.protocols import (
        AuthType,
        Executor,
        Paginator,
        StateStore,
        WebhookVerifier,
    )
    from hookline.plugins.records import (
        ExecutorConfig,
        ExpressionFunction,
        Sandbox,
        WebhookTarget,
    )
    from hookline.recipes.load import load_recipe
    from hookline.spec.catalog import Catalog
    from hookline.version import __version__

__all__ = [
    "ActionError",
    "AuthTarget",
    "AuthType",
    "AuthenticationError",
    "Catalog",
    "CompiledValue",
    "Compiler",
    "ConfigurationError",
    "Connection",
    "Executor",
    "ExecutorConfig",
    "ExpressionError",
    "ExpressionFunction",
    "Expressions",
    "HooklineError",
    "InvalidDocumentError",
    "InvalidRequestError",
    "InvalidResponseError",
    "NotFoundError",
    "OutcomeUnknownError",
    "Page",
    "PageSource",
    "Paginator",
    "PermissionDeniedError",
    "PluginError",
    "Problem",
    "RateLimitWaitError",
    "RateLimitedError",
    "RecipeError",
    "ResponseTooLargeError",
    "Sandbox",
    "ServerError",
    "SpecError",
    "SpecFormatError",
    "StateStore",
    "TransportError",
    "UnsafeRequestError",
    "WebhookTarget",
    "WebhookVerifier",
    "__version__",
    "call_action",
    "get_plugin_manager",
    "hookimpl",
    "iter_records",
    "load_recipe",
]

_EXPORTS: dict[str, str] = {
    "ActionError": "hookline.errors",
    "AuthTarget": "hookline.http.auth.static",
    "AuthType": "hookline.plugins.protocols",
    "AuthenticationError": "hookline.errors",
    "Catalog": "hookline.spec.catalog",
    "CompiledValue": "hookline.expr.templates",
    "Compiler": "hookline.documents.compiler",
    "ConfigurationError": "hookline.errors",
    "Connection": "hookline.http.connection",
    "Executor": "hookline.plugins.protocols",
    "ExecutorConfig": "hookline.plugins.records",
    "ExpressionError": "hookline.errors",
    "ExpressionFunction": "hookline.plugins.records",
    "Expressions": "hookline.expr.templates",
    "HooklineError": "hookline.errors",
    "InvalidDocumentError": "hookline.errors",
    "InvalidRequestError": "hookline.errors",
    "InvalidResponseError": "hookline.errors",
    "NotFoundError": "hookline.errors",
    "OutcomeUnknownError": "hookline.errors",
    "Page": "hookline.actions.pages",
    "PageSource": "hookline.actions.pages",
    "Paginator": "hookline.plugins.protocols",
    "PermissionDeniedError": "hookline.errors",
    "PluginError": "hookline.errors",
    "Problem": "hookline.errors",
    "RateLimitWaitError": "hookline.errors",
    "RateLimitedError": "hookline.errors",
    "RecipeError": "hookline.errors",
    "ResponseTooLargeError": "hookline.errors",
    "Sandbox": "hookline.plugins.records",
    "ServerError": "hookline.errors",
    "SpecError": "hookline.errors",
    "SpecFormatError": "hookline.errors",
    "StateStore": "hookline.plugins.protocols",
    "TransportError": "hookline.errors",
    "UnsafeRequestError": "hookline.errors",
    "WebhookTarget": "hookline.plugins.records",
    "WebhookVerifier": "hookline.plugins.protocols",
    "__version__": "hookline.version",
    "call_action": "hookline.actions.call",
    "get_plugin_manager": "hookline.plugins.manager",
    "hookimpl": "hookline.plugins.hookspecs",
    "iter_records": "hookline.actions.call",
    "load_recipe": "hookline.recipes.load",
}
"""The module each public name is defined in, imported when the name is first used."""


if not _typing.TYPE_CHECKING:

    def __getattr__(name: str) -> _typing.Any:
        """Import the module that defines public ``name`` and keep the value here."""
        module = _EXPORTS.get(name)
        if module is None:
            raise AttributeError(f"module 'hookline' has no attribute {name!r}")
        import importlib

        value = getattr(importlib.import_module(module), name)
        globals()[name] = value
        return value

    def __dir__() -> list[str]:
        """The module's names, the public ones included before their first use."""
        return sorted({*globals(), *__all__})

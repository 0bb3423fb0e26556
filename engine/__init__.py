"""hookline: declarative YAML connectors, recipes and a runner for security and operations.

What plugin authors and embedders may import is re-exported here and listed in ``__all__``.
"""

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
from hookline.plugins.protocols import AuthType, Executor, Paginator, StateStore, WebhookVerifier
from hookline.plugins.records import ExpressionFunction, Sandbox, WebhookTarget
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

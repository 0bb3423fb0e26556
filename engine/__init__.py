"""hookline: declarative YAML connectors, recipes and a runner for security and operations.

What plugin authors and embedders may import is re-exported here and listed in ``__all__``.
"""

import importlib.metadata as _metadata

from .actions import call_action, iter_records
from .catalog import Catalog
from .compiler import Compiler
from .connection import Connection
from .errors import (
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
    RecipeError,
    ServerError,
    SpecError,
    TransportError,
    UnsafeRequestError,
)
from .expressions import ExpressionFunction, Expressions
from .hookspecs import hookimpl
from .plugins import get_plugin_manager
from .recipe import load_recipe
from .sandbox import Sandbox

try:
    __version__ = _metadata.version("hookline")
except _metadata.PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = [
    "ActionError",
    "AuthenticationError",
    "Catalog",
    "Compiler",
    "ConfigurationError",
    "Connection",
    "ExpressionError",
    "ExpressionFunction",
    "Expressions",
    "HooklineError",
    "InvalidDocumentError",
    "InvalidRequestError",
    "InvalidResponseError",
    "NotFoundError",
    "OutcomeUnknownError",
    "PermissionDeniedError",
    "PluginError",
    "Problem",
    "RateLimitedError",
    "RecipeError",
    "Sandbox",
    "ServerError",
    "SpecError",
    "TransportError",
    "UnsafeRequestError",
    "__version__",
    "call_action",
    "get_plugin_manager",
    "hookimpl",
    "iter_records",
    "load_recipe",
]

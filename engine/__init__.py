"""hookline: declarative YAML connectors, recipes and a runner for security and operations platforms.

What plugin authors and embedders may import is re-exported here and listed in ``__all__``.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

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
from .hookspecs import hookimpl
from .plugins import get_plugin_manager
from .sandbox import Sandbox

try:
    __version__ = version("hookline")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = [
    "ActionError",
    "AuthenticationError",
    "ConfigurationError",
    "ExpressionError",
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
    "get_plugin_manager",
    "hookimpl",
]

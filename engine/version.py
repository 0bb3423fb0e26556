"""The installed version of hookline, read once from the distribution's metadata."""

import importlib.metadata as _metadata

try:
    __version__ = _metadata.version("hookline")
except _metadata.PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

"""The PlexTrac connector: its spec and its sandbox, registered as a built-in plugin."""

from hookline.connectors import BuiltinConnector

_plugin = BuiltinConnector("plextrac", "PlexTrac")
register_connectors = _plugin.register_connectors
register_sandboxes = _plugin.register_sandboxes

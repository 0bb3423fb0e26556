"""The PCR-360 connector: its spec and its sandbox, registered as a built-in plugin."""

from hookline.connectors import BuiltinConnector

_plugin = BuiltinConnector("pcr360", "PCR-360")
register_connectors = _plugin.register_connectors
register_sandboxes = _plugin.register_sandboxes

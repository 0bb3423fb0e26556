"""The mnemonic Argus connector: its spec and its sandbox, registered as a built-in plugin."""

from hookline.connectors import BuiltinConnector

_plugin = BuiltinConnector("argus", "mnemonic Argus")
register_connectors = _plugin.register_connectors
register_sandboxes = _plugin.register_sandboxes

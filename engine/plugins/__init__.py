"""The plugin host: the manager, every hook specification, and the contracts of what plugins
provide.
"""

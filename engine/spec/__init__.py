"""Connector specs: the compiled model, building it from a document, the catalog of registered
connectors, generated references.
"""

"""Issuehub for hookline: the connector's spec and its sandbox."""

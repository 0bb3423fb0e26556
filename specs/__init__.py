"""Connector specs shipped with hookline, one YAML file per platform."""

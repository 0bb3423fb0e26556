"""JSON Schemas of the spec and recipe formats, shipped as package data."""

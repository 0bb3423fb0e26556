"""YAML documents with positions: the safe loader, schema errors as located problems, compiling a
document's expressions.
"""

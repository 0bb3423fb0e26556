"""Calling actions: the call flow, inputs and outputs, files, dry-run plans, composite calls, pages
and paginators.
"""

"""The HTTP runtime: a connection, rendering and sending requests, rate limits, redaction,
responses and typed errors.
"""

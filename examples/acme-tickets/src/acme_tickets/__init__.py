"""Acme Tickets for hookline: the connector, its HMAC auth and seek paginator, and a sandbox."""

"""Auth types: the static ones (basic, bearer, api_key, headers), sessions with login and renewal,
TOTP and JWT expiry.
"""

"""Auth types: the static ones (basic, bearer, api_key, headers), sessions with login and renewal,
TOTP and JWT expiry, OAuth 2.0 grants, and the encrypted store of the tokens a person authorized.
"""

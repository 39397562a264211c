"""The JWT strategy: signing keys, access tokens, refresh token families.

`authward.tokens.service.TokenService` is the one entry point the web layer and the CLI use.
"""

"""Second factors: TOTP, recovery codes, and the half-signed-in state between the two steps."""

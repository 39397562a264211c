"""Revocation of access tokens before they expire: the list every node checks, and the
bus that carries revocations between nodes."""

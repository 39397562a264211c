"""The opaque keys counts live under: digests, so no log holds an email, address or token."""

from __future__ import annotations

import hashlib


def account_key(email: str) -> bytes:
    return hashlib.sha256(b"account\x00" + email.encode("utf-8", "surrogatepass")).digest()


def pair_key(email: str, address: str) -> bytes:
    joined = email + "\x00" + address
    return hashlib.sha256(b"pair\x00" + joined.encode("utf-8", "surrogatepass")).digest()


def address_key(action: str, address: str) -> bytes:
    joined = action + "\x00address\x00" + address
    return hashlib.sha256(joined.encode("utf-8", "surrogatepass")).digest()


def token_key(token: str) -> bytes:
    return hashlib.sha256(b"refresh-token\x00" + token.encode("utf-8", "surrogatepass")).digest()


def mfa_key(user_id: str) -> bytes:
    return hashlib.sha256(b"mfa\x00" + user_id.encode("utf-8", "surrogatepass")).digest()


def mail_key(action: str, user_id: str) -> bytes:
    joined = action + "\x00mail\x00" + user_id
    return hashlib.sha256(joined.encode("utf-8", "surrogatepass")).digest()

"""The master secret of a deployment, and the purpose-bound keys derived from it.

Every node of one deployment shares the master secret (``AUTHWARD_SECRET_KEY``); without
it, a random one is generated once into ``AUTHWARD_KEY_FILE`` (mode 0600) so that the first
run just works and a restart keeps sessions and keys. Each use gets its own key through
HKDF-SHA256 with a distinct ``info`` label (RFC 5869), so no two purposes share key bytes.
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from authward.settings import Settings

security_log = logging.getLogger("authward.security")


class MasterSecret:
    """The deployment's master secret; its ``repr`` never shows it."""

    __slots__ = ("_value",)

    def __init__(self, value: bytes) -> None:
        if len(value) < 32:
            raise ValueError("the master secret must be at least 32 bytes")
        self._value = value

    def __repr__(self) -> str:
        return "MasterSecret('**********')"

    @property
    def raw(self) -> bytes:
        """The secret's own bytes: only HS256 signing uses them directly (shared HMAC key)."""
        return self._value

    def derive(self, purpose: str, length: int = 32) -> bytes:
        """Return a key for one purpose only (e.g. ``"csrf"``, ``"key-encryption"``)."""
        hkdf = HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=purpose.encode())
        return hkdf.derive(self._value)


def load_master_secret(settings: Settings) -> MasterSecret:
    """Return the configured master secret, or the generated one kept in the key file."""
    if settings.secret_key is not None:
        return MasterSecret(settings.secret_key.get_secret_value().encode())
    return MasterSecret(_read_or_create(Path(settings.key_file)))


def _read_or_create(path: Path) -> bytes:
    try:
        value = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        value = secrets.token_urlsafe(48)
        # Written aside, then linked into place: link() fails if the file exists, so two
        # workers starting at once agree on one secret and nobody reads a half-written file.
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(value + "\n")
        try:
            os.link(temporary, path)
        except FileExistsError:
            return _read_or_create(path)
        finally:
            temporary.unlink()
        # Only the process that made the file says so; never the secret itself.
        security_log.warning(
            "generated a master secret into %s (owner only): keep it, since losing it ends"
            " every session and token; for several nodes set AUTHWARD_SECRET_KEY instead",
            path.resolve(),
            extra={"event": "key_file_created"},
        )
        return value.encode()
    if len(value) < 32:
        raise ValueError(f"{path} holds fewer than 32 characters; remove it to regenerate")
    return value.encode()

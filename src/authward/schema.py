"""Every SQL table, gathered in one place so MetaData is complete for migrations and tests.

This module sits above the concepts, beside the assembly: each concept declares its own
tables on `authward.storage.sql.metadata`, and only this module (and the migrations that
import it) needs to know them all. Storage itself never imports a concept.
"""

from __future__ import annotations

from authward import audit as _audit
from authward.accounts import link_sql as _links
from authward.accounts import sql as _accounts
from authward.factors import passkey_sql as _passkeys
from authward.factors import sql as _factors
from authward.mail import sql as _mail
from authward.revocation import sql as _revocations
from authward.sessions import sql as _sessions
from authward.storage.sql import metadata
from authward.throttle import sql as _throttle
from authward.tokens import sql as _tokens

__all__ = ["metadata"]

_TABLE_MODULES = (
    _accounts,
    _links,
    _throttle,
    _sessions,
    _tokens,
    _revocations,
    _audit,
    _mail,
    _factors,
    _passkeys,
)

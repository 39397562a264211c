"""What every command-line test shares."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _public_url_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    """`authward serve` sets AUTHWARD_PUBLIC_URL in its own environment (its workers build
    their Settings from it); a serve run in this process must not leave it to later tests."""
    monkeypatch.setenv("AUTHWARD_PUBLIC_URL", "")
    monkeypatch.delenv("AUTHWARD_PUBLIC_URL")

"""The public surface: `authward.__all__`, and docs/library.md describing exactly it."""

from __future__ import annotations

import re
from pathlib import Path

import authward

LIBRARY_DOC = Path(__file__).parents[1] / "docs" / "library.md"


def documented_names() -> set[str]:
    """The names docs/library.md lists as exported: its `### \\`Name\\`` headings."""
    return set(re.findall(r"^### `([A-Za-z_][A-Za-z0-9_]*)`", LIBRARY_DOC.read_text(), re.M))


def test_all_is_sorted_and_importable() -> None:
    assert authward.__all__ == sorted(authward.__all__)
    assert len(set(authward.__all__)) == len(authward.__all__)
    for name in authward.__all__:
        assert getattr(authward, name) is not None


def test_every_export_is_documented_and_nothing_else() -> None:
    exported, documented = set(authward.__all__), documented_names()
    assert exported - documented == set(), "document these in docs/library.md"
    assert documented - exported == set(), "docs/library.md documents names not exported"


def test_nothing_private_is_exported() -> None:
    assert not [name for name in authward.__all__ if name.startswith("_")]

"""A package's public names, each imported from its home module when first used (PEP 562).

``authward`` and ``authward.mail`` both name members whose modules are heavy (FastAPI,
SQLAlchemy, Jinja2): a program that uses one name loads only that name's module.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_members(
    namespace: dict[str, Any], homes: Mapping[str, str]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """The module's ``__getattr__`` and ``__dir__`` for a package whose globals are
    `namespace`: each name of `homes` fetched from its module, then kept in `namespace`,
    so the next lookup finds it without this function."""
    package = namespace["__name__"]

    def __getattr__(name: str) -> object:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(home), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *namespace.get("__all__", ())})

    return __getattr__, __dir__

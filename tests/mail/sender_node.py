"""One node of the two-process test: a runtime from the environment, sending until killed."""

from __future__ import annotations

import anyio

from authward.runtime import build_runtime
from authward.settings import load_settings


async def main() -> None:
    runtime = build_runtime(load_settings())
    await runtime.open(background=True)
    try:
        await anyio.sleep_forever()
    finally:
        await runtime.close()


if __name__ == "__main__":
    anyio.run(main)

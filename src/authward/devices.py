"""Name a device the way its owner knows it: "Firefox 126 on Windows", not a user agent.

The account pages and the command line (`authward sessions list`, `authward audit`) name
devices alike; this module is outside `authward.web` so that the command line does not
load the pages, and FastAPI with them, to do it.
"""

from __future__ import annotations

from collections.abc import Iterable

import anyio.to_thread
import ua_parser

UNKNOWN = "Unknown device"


def describe(user_agent: str) -> str:
    """Browser and OS from a user-agent string; the raw string (shortened) if unparsed."""
    result = ua_parser.parse(user_agent)
    browser = result.user_agent
    system = result.os
    if browser is None and system is None:
        return user_agent[:60] or UNKNOWN
    name = browser.family if browser else "Unknown browser"
    if browser and browser.major:
        name += f" {browser.major}"
    if system is None:
        return name
    os_name = system.family + (f" {system.major}" if system.major else "")
    return f"{name} on {os_name}"


async def describe_all(user_agents: Iterable[str]) -> dict[str, str]:
    """Describe each distinct user agent, off the event loop (the regexes are costly)."""
    distinct = sorted(set(user_agents))
    names = await anyio.to_thread.run_sync(lambda: [describe(ua) for ua in distinct])
    return dict(zip(distinct, names, strict=True))

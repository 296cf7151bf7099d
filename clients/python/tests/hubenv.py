"""Settings of the tests that need a running hub, from environment variables (set by the .NET test
``Kai.Client.Tests.ForeignClients.PythonClientTests``, or by hand against a hub of your own):

- ``KAI_HUB_URL``: the hub, e.g. ``http://127.0.0.1:8000``
- ``KAI_TEST_EMAIL`` / ``KAI_TEST_PASSWORD``: a user
- ``KAI_AGENT_ID`` / ``KAI_AGENT_SECRET`` and ``KAI_PEER_ID`` / ``KAI_PEER_SECRET``: two agents of that user
- ``KAI_TEST_CONTROL_URL``: where the parent takes control requests: a ``POST`` with the body ``close-events CODE`` or
  ``close-agent ID CODE`` makes the hub close those links with CODE, and is answered ``ok``.
"""

from __future__ import annotations

import asyncio
import os
import time
import unittest
from typing import Any, Awaitable, Callable

import httpx

HUB_URL = os.environ.get("KAI_HUB_URL", "")
EMAIL = os.environ.get("KAI_TEST_EMAIL", "")
PASSWORD = os.environ.get("KAI_TEST_PASSWORD", "")
AGENT_ID = os.environ.get("KAI_AGENT_ID", "")
AGENT_SECRET = os.environ.get("KAI_AGENT_SECRET", "")
PEER_ID = os.environ.get("KAI_PEER_ID", "")
PEER_SECRET = os.environ.get("KAI_PEER_SECRET", "")
CONTROL_URL = os.environ.get("KAI_TEST_CONTROL_URL", "")
CONTROL = bool(CONTROL_URL)

needs_hub = unittest.skipUnless(HUB_URL and AGENT_SECRET and PEER_SECRET,
                                "set KAI_HUB_URL and the credentials (see tests/hubenv.py)")
needs_control = unittest.skipUnless(CONTROL, "needs the parent's control URL (KAI_TEST_CONTROL_URL)")


async def control(line: str) -> None:
    """Asks the parent process to act on the hub (see the module doc) and waits for its ``ok``."""
    async with httpx.AsyncClient(timeout=30) as http:
        answer = (await http.post(CONTROL_URL, content=line.encode())).text.strip()
    if answer != "ok":
        raise AssertionError(f"control '{line}' failed: {answer!r}")


async def until(condition: Callable[[], Awaitable[Any]], what: str, timeout: float = 15.0) -> Any:
    """Polls ``condition`` until it returns a truthy value; fails after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = await condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout} s for {what}")
        await asyncio.sleep(0.05)

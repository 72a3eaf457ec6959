"""Boots the hub app's safe mode (what the loader runs after repeated crashes), fake driver."""

import hub.app
import hub.printers

hub.printers.DRIVERS["bambu"] = ("fake_printer", "FakeDriver")

import asyncio  # noqa: E402

asyncio.run(hub.app.safe_main())

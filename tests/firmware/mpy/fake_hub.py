"""Boots the unmodified hub app with the fake printer driver and transfer (hub-core tests)."""

import fake_printer
import hub.app
import hub.printers

hub.printers.DRIVERS["bambu"] = ("fake_printer", "FakeDriver")

import asyncio  # noqa: E402

asyncio.run(hub.app.App(transfer=fake_printer.FakeTransfer).run())

"""Boots the hub with fake printers, then calls the REPL helpers as an engineer would."""

import asyncio
import json

import fake_printer
import hub
import hub.app
import hub.printers

hub.printers.DRIVERS["bambu"] = ("fake_printer", "FakeDriver")


async def main():
    app = hub.app.App(transfer=fake_printer.FakeTransfer)
    task = asyncio.create_task(app.run())
    while not (app.link.is_up() and app.printers.drivers):
        await asyncio.sleep_ms(50)
    await asyncio.sleep_ms(300)
    st = hub.status()
    hub.logs(5)
    cfg = hub.settings()
    printers = hub.printer_info()
    print(json.dumps({"helpers": {"status": st, "config": cfg, "printers": printers}}))
    app.stop()
    await task


asyncio.run(main())

"""Fixtures for the simulated-printer tests: a printer on loopback and a paho MQTT client."""

from __future__ import annotations

import pytest

from hub_sim.bambu import SimulatedBambuPrinter
from tests.hub_sim.mqtt_client import ACCESS_CODE, SERIAL, ReportClient


@pytest.fixture
async def printer(tmp_path):
    """A P1S on loopback, fast clock, no FTPS/camera (MQTT tests)."""
    async with SimulatedBambuPrinter(
        SERIAL,
        ACCESS_CODE,
        model="P1S",
        mqtt_port=0,
        ftps_port=None,
        camera_port=None,
        speed=1000,
        report_interval=0.2,
        workdir=tmp_path / "printer",
    ) as p:
        yield p


@pytest.fixture
async def client(printer):
    """A connected paho client subscribed to the printer's reports."""
    c = ReportClient(printer)
    assert await c.connected() == 0
    yield c
    c.close()

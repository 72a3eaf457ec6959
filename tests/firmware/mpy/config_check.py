"""MicroPython side of test_config: NVS stand-in semantics and hub.config, one phase per run."""

import json
import sys

import esp32
from hub.config import Config, ConfigError, provision

PHASE = sys.argv[1]


def out(**kw):
    print(json.dumps(kw))


def errno_of(fn):
    try:
        fn()
    except OSError as e:
        return e.args[0]
    except Exception as e:
        return type(e).__name__
    return None


if PHASE == "write":
    nvs = esp32.NVS("t")
    out(missing_i32=errno_of(lambda: nvs.get_i32("nope")))
    out(missing_blob=errno_of(lambda: nvs.get_blob("nope", bytearray(4))))
    out(long_key=errno_of(lambda: nvs.set_i32("k" * 16, 1)))
    nvs.set_i32("n", -42)
    nvs.set_blob("b", b"\x00\x01binary")
    small = bytearray(3)
    out(small_buffer=errno_of(lambda: nvs.get_blob("b", small)))
    buf = bytearray(32)
    n = nvs.get_blob("b", buf)
    out(read_back=[nvs.get_i32("n"), bytes(buf[:n]).hex()])
    nvs.commit()
    nvs.set_i32("uncommitted", 1)  # never committed: gone after the VM exits
    cfg = provision(
        {
            "hub_id": "hub-7",
            "secret": "s3cret-factory",
            "cloud_url": "wss://cloud.example:443",
            "wifi_ssid": "farm",
            "wifi_pass": "wifi-pass-77",
            "printers": [
                {"printer_id": "p1", "access_code": "AC-111", "serial": "S1"},
                {"printer_id": "p2", "access_code": "AC-222", "serial": "S2"},
            ],
        }
    )
    cfg.upsert_printer({"printer_id": "p2", "access_code": "AC-333", "serial": "S2b"})
    out(removed=[cfg.remove_printer("p1"), cfg.remove_printer("p1")])
    print("repr:", repr(cfg))
    out(redacted=cfg.redacted())
    empty = Config(esp32.NVS("other"))
    try:
        empty.check()
        out(check="passed")
    except ConfigError as e:
        out(check=str(e))
elif PHASE == "read":
    nvs = esp32.NVS("t")
    buf = bytearray(32)
    n = nvs.get_blob("b", buf)
    out(persisted=[nvs.get_i32("n"), bytes(buf[:n]).hex()])
    out(uncommitted=errno_of(lambda: nvs.get_i32("uncommitted")))
    cfg = Config()
    cfg.check()
    out(hub_id=cfg.hub_id, secret=cfg.secret.decode(), printers=cfg.printers())
    out(backoff=cfg.backoff_ms())

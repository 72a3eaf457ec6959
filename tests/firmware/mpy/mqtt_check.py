"""MicroPython side of tests/firmware/test_mqtt.py: drives net.mqtt against a real broker."""

import asyncio
import json
import sys

from net import mqtt, tls


class Done(Exception):
    pass


def out(**kw):
    print(json.dumps(kw))


def load(path):
    with open(path, "rb") as f:
        return f.read()


async def main():
    mode, host, port, ca, user, pw = sys.argv[1:7]
    port = int(port)
    max_packet = int(sys.argv[7]) if len(sys.argv) > 7 else mqtt.MAX_PACKET
    keepalive = int(sys.argv[8]) if len(sys.argv) > 8 else 30
    verify = ca != "-"
    ctx = tls.client_context(load(ca) if verify else None, verify=verify)
    got = []

    def on_message(topic, payload):
        body = bytes(payload)
        got.append(1)
        if len(body) > 200:
            out(event="message", topic=topic, size=len(body), head=str(body[:20], "utf-8"))
        else:
            out(event="message", topic=topic, size=len(body), body=str(body, "utf-8"))
        if body == b"end":
            raise Done()

    c = mqtt.MQTTClient(
        "mpy-test", user, pw, keepalive_s=keepalive, max_packet=max_packet, on_message=on_message
    )
    try:
        await c.connect(host, port, ctx, server_hostname="01P00A000000001")
    except mqtt.MQTTError as e:
        out(event="refused", code=e.code, message=e.message)
        return
    except OSError as e:
        out(event="connect_error", message=str(e))
        return
    out(event="connected")
    await c.subscribe("device/test/report", 0)
    out(event="subscribed")
    if mode == "roundtrip":
        await c.publish("device/test/request", '{"pushing":{"command":"pushall"}}', qos=1)
        await c.publish("device/test/request", b"qos0", qos=0)
        out(event="published")
    try:
        await c.loop()
    except Done:
        out(event="done", count=len(got), dropped=c.dropped)
        await c.disconnect()
    except Exception as e:
        out(event="loop_ended", error=repr(e), count=len(got), dropped=c.dropped)


async def pair():
    # Two sessions in one VM receiving large packets at once: they share the big buffer.
    host, port, ca, user, pw, count = sys.argv[2:8]
    count = int(count)
    ctx = tls.client_context(load(ca))
    done = asyncio.Event()
    seen = {"a": 0, "b": 0}

    def handler(name):
        def on_message(topic, payload):
            out(event="digest", who=name, size=len(payload), md5=hexmd5(payload))
            seen[name] += 1
            if seen["a"] == count and seen["b"] == count:
                done.set()

        return on_message

    clients = []
    for name in ("a", "b"):
        c = mqtt.MQTTClient("pair-" + name, user, pw, on_message=handler(name))
        await c.connect(host, int(port), ctx, server_hostname="01P00A000000001")
        await c.subscribe("device/" + name + "/report", 0)
        clients.append(c)
    tasks = [asyncio.create_task(c.loop()) for c in clients]
    out(event="subscribed")
    await done.wait()
    for c in clients:
        await c.disconnect()
    for t in tasks:
        try:
            await t
        except Exception:
            pass
    out(event="done")


def hexmd5(mv):
    import binascii
    import hashlib

    return str(binascii.hexlify(hashlib.md5(mv).digest()), "ascii")


if sys.argv[1] == "pair":
    asyncio.run(pair())
else:
    asyncio.run(main())

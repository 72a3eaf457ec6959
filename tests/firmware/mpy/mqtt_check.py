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


asyncio.run(main())

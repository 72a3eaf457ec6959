"""Handle the cloud's ota_update command (firmware or app) and acknowledge it.

Used by the application and by safe mode alike: apply the offer, answer command_ack, and
return True when the hub must now reboot into the update.
"""

from device import app_update, ota
from device.release import UpdateRefused


def ack(command, success, error=None, result=None):
    """A command_ack message for command."""
    msg = {"type": "command_ack", "command_id": command.get("command_id", ""), "success": success}
    if error is not None:
        msg["error"] = {"code": error[0], "message": error[1]}
    if result is not None:
        msg["result"] = result
    return msg


async def handle(command, fetch, send, public_key=None):
    """Apply an ota_update; `await send(command_ack)`; return True if a reboot is due."""
    kind = command.get("kind")
    try:
        if kind == "firmware":
            result = await ota.apply_offer(command, fetch, public_key)
        elif kind == "app":
            result = await app_update.apply_offer(command, fetch, public_key)
        else:
            raise UpdateRefused("bad_command", "ota_update: unknown kind %r" % (kind,))
    except UpdateRefused as e:
        print("update refused: %s: %s" % (e.code, e.message))
        await send(ack(command, False, (e.code, e.message)))
        return False
    print("update %s %s written to %s; rebooting" % (kind, result["version"], result["slot"]))
    await send(ack(command, True, result=result))
    return True

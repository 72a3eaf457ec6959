"""The never-updated loader: picks the application slot to run, falls back, enters safe mode.

Frozen into the firmware image and never touched by application updates. Two application
slots live on the filesystem (apps/a, apps/b); "factory" is the application frozen into the
image. NVS keeps the active slot, the fallback slot, whether the active slot is on trial and
a counter of boots that ended before the application confirmed itself (mark_good()).

Each boot counts. A slot on trial gets TRIAL_BOOTS boots to call mark_good(); then the
loader falls back to the previous slot. After SAFE_MODE_BOOTS unconfirmed boots in a row the
hub runs safe mode (WiFi, portal, cloud link, OTA only) from the frozen code, the pattern of
ESPHome's safe_mode and Tasmota's safeboot, until an update installs a slot or mark_good()
runs.
"""

import sys

import esp32
import machine

NAMESPACE = "loader"
APPS_DIR = "apps"
SLOTS = ("factory", "a", "b")
TRIAL_BOOTS = 2  # boots a freshly installed slot gets to confirm itself
SAFE_MODE_BOOTS = 5  # unconfirmed boots in a row before safe mode
VERSION_FILE = "VERSION"  # written last when a slot is installed: its presence means complete

_state = {"slot": "factory", "mode": "normal"}


def _nvs():
    return esp32.NVS(NAMESPACE)


def _get(key, default):
    try:
        return _nvs().get_i32(key)
    except OSError:
        return default


def _put(**values):
    nvs = _nvs()
    for key, value in values.items():
        nvs.set_i32(key, value)
    nvs.commit()


def slot_dir(slot):
    """Directory of an application slot on the filesystem."""
    return APPS_DIR + "/" + slot


def slot_version(slot):
    """Version installed in a slot ("frozen" for factory), or None if the slot is incomplete."""
    if slot == "factory":
        return "frozen"
    try:
        with open(slot_dir(slot) + "/" + VERSION_FILE) as f:
            return f.read().strip()
    except OSError:
        return None


def state():
    """The loader's NVS state plus what this boot chose."""
    return {
        "slot": SLOTS[_get("slot", 0)],
        "previous": SLOTS[_get("prev", 0)],
        "trial": bool(_get("trial", 0)),
        "boots": _get("boots", 0),
        "running": _state["slot"],
        "mode": _state["mode"],
    }


def choose():
    """Count this boot and decide (slot, mode); mode is "normal" or "safe"."""
    slot = _get("slot", 0)
    prev = _get("prev", 0)
    trial = _get("trial", 0)
    boots = _get("boots", 0) + 1
    if slot and slot_version(SLOTS[slot]) is None:
        print("loader: slot %s is incomplete, using %s" % (SLOTS[slot], SLOTS[prev]))
        slot, trial = prev, 0
    elif trial and boots > TRIAL_BOOTS:
        print(
            "loader: slot %s failed %d boots, falling back to %s"
            % (SLOTS[slot], boots - 1, SLOTS[prev])
        )
        slot, trial = prev, 0
    _put(slot=slot, trial=trial, boots=boots)
    mode = "safe" if boots > SAFE_MODE_BOOTS else "normal"
    _state["slot"] = SLOTS[slot]
    _state["mode"] = mode
    return SLOTS[slot], mode


def mark_good():
    """The running application passed its health check: keep it, reset the boot counter."""
    if _state["mode"] == "safe":
        return
    if SLOTS[_get("slot", 0)] != _state["slot"]:
        return  # an update was installed during this boot: the new slot must prove itself
    _put(boots=0, trial=0)


def leave_safe_mode():
    """Forget the failure count (e.g. after settings were fixed in the portal); next boot is normal."""
    _put(boots=0)


def inactive_slot():
    """The application slot an update may be written to (never the running one)."""
    return "b" if _state["slot"] == "a" else "a"


def install(slot, version):
    """Make a freshly written slot active on trial from the next boot."""
    if slot not in ("a", "b") or slot_version(slot) != version:
        raise ValueError("slot %s does not hold version %s" % (slot, version))
    running = SLOTS.index(_state["slot"]) if _state["mode"] == "normal" else _get("prev", 0)
    _put(slot=SLOTS.index(slot), prev=running, trial=1, boots=0)


def _activate(slot):
    # The slot's modules shadow the frozen ones; '' (the filesystem root) must not.
    while "" in sys.path:
        sys.path.remove("")
    if slot != "factory":
        sys.path.insert(0, slot_dir(slot))


def run(entry="hub.app"):
    """Boot the application: import entry from the chosen slot and call its main().

    In safe mode only frozen code runs: entry's safe_main() if it has one, else
    device.safemode.run(). Any exception out of the application resets the hub, which
    counts as a failed boot.
    """
    slot, mode = choose()
    print("loader: boot %d, slot %s, mode %s" % (_get("boots", 0), slot, mode))
    try:
        if mode == "safe":
            _activate("factory")
            _run_safe(entry)
        else:
            _activate(slot)
            module = __import__(entry, None, None, ["main"])
            platform = _platform()
            if platform is not None:
                platform.start()
            _wait(module.main())
            print("loader: application returned")
            if platform is not None:
                _wait(platform.after_app())
    except KeyboardInterrupt:
        raise  # an engineer on the REPL stopped it: stay in the REPL
    except Exception as e:
        print("loader: application failed:")
        sys.print_exception(e)
    machine.reset()


def _platform():
    # WiFi and the run-ok watch (device/platform.py, frozen firmware code). Their tasks run
    # once the application starts asyncio; a firmware without them still boots the app.
    try:
        from device import platform
    except ImportError:
        return None
    return platform


def _run_safe(entry):
    try:
        module = __import__(entry, None, None, ["safe_main"])
        safe_main = getattr(module, "safe_main", None)
    except Exception as e:
        print("loader: frozen application will not import in safe mode:")
        sys.print_exception(e)
        safe_main = None
    if safe_main is None:
        import device.safemode

        safe_main = device.safemode.run
    _wait(safe_main())


def _wait(result):
    # main() may be a coroutine function: run it on the asyncio loop.
    if result is not None and hasattr(result, "send"):
        import asyncio

        asyncio.run(result)

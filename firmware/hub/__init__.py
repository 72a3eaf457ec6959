"""PrintFarm hub application; engineer helpers for the REPL: hub.status(), hub.logs(), ...

Helper names differ from the submodules (hub.config, hub.printers) on purpose: importing a
submodule rebinds the package attribute of the same name.
"""

_app = None  # the running hub.app.App (set by App.run)


def _running():
    if _app is None:
        raise RuntimeError("the hub is not running")
    return _app


def status():
    """Print and return the hub's state: cloud link, outbox, printers, tasks, memory."""
    st = _running().status()
    for key in st:
        print(key, "=", st[key])
    return st


def logs(n=30):
    """Print the newest n lines of the ring-buffer log."""
    from hub.log import log

    for line in log.lines(n):
        print(line)


def settings():
    """Print and return the configuration with secrets redacted."""
    from hub.config import Config

    view = Config().redacted()
    for key in view:
        print(key, "=", view[key])
    return view


def printer_info():
    """Print and return each printer's full status as its driver sees it."""
    app = _running()
    out = {}
    for pid, driver in app.printers.drivers.items():
        out[pid] = driver.status()
        print(pid, out[pid])
    return out


def reboot():
    """Reset the hub (machine.reset)."""
    import machine

    machine.reset()

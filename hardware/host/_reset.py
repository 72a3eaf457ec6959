"""Host chip reset: keeps machine.reset_cause() across emulated reboots; a reset ends the process.

reset() on the main thread records the cause and leaves the VM with RESET_EXIT_CODE, which
hub_runner takes as "boot again". From another thread (the watchdog) SystemExit would only end
that thread, so it kills the whole process instead, as a real reset stops the CPU wherever it
is; the runner sees a recorded cause and boots again. A process killed from outside without a
recorded cause comes back as a power-on reset.
"""

import _thread
import os
import sys

import _hubdir

# machine.*_RESET values of the esp32 port (ports/esp32/modmachine.c).
PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
SOFT_RESET = 5

_CAUSE_FILE = "reset_cause"
RESET_EXIT_CODE = 75  # exit status that tells hub_runner the firmware asked for a reboot
_MAIN_THREAD = _thread.get_ident()  # imported at boot, on the main thread


def _consume():
    # Read once at boot (first import), then forget, as the chip's reset-reason register does.
    name = _hubdir.path(_CAUSE_FILE)
    try:
        with open(name) as f:
            cause = int(f.read().strip() or PWRON_RESET)
        os.remove(name)
    except (OSError, ValueError):
        cause = PWRON_RESET
    return cause


_boot_cause = _consume()


def reset_cause():
    """Why this boot happened (machine.reset_cause())."""
    return _boot_cause


def reset(cause=HARD_RESET):
    """Record the cause and stop the VM (machine.reset(), watchdog, panic)."""
    with open(_hubdir.path(_CAUSE_FILE), "w") as f:
        f.write(str(cause))
    if _thread.get_ident() == _MAIN_THREAD:
        sys.exit(RESET_EXIT_CODE)
    # $PPID of the shell is this process: the whole interpreter dies, every thread with it.
    os.system("kill -9 $PPID")
    while True:  # not reached; never return to the caller, like the chip
        pass

"""Wall clock in integer epoch milliseconds, corrected from the cloud's server_time."""

import time

# Ports whose epoch is 2000-01-01 (older ESP32 builds) are shifted to the Unix epoch.
_EPOCH_SHIFT_MS = 946684800000 if time.gmtime(0)[0] == 2000 else 0
# A hub clock within this of the cloud's is left alone (no NTP needed for that precision).
SYNC_TOLERANCE_MS = 2000

_offset_ms = 0


def now_ms():
    """Epoch milliseconds (the protocol's timestamp unit)."""
    return time.time_ns() // 1000000 + _EPOCH_SHIFT_MS + _offset_ms


def sync(server_ms):
    """Adopt the cloud's time when ours is off by more than SYNC_TOLERANCE_MS (no RTC, no NTP)."""
    global _offset_ms
    drift = server_ms - now_ms()
    if drift > SYNC_TOLERANCE_MS or drift < -SYNC_TOLERANCE_MS:
        _offset_ms += drift
    return drift

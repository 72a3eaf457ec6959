"""Fault switches shared by the printer's services (MQTT, FTPS, camera); thread-safe."""

from __future__ import annotations

import threading


def parse_hms(code: str) -> dict:
    """'0300_0100_0001_0007' (wiki form) -> the report's {"attr": 0x03000100, "code": 0x00010007}."""
    parts = code.replace("-", "_").split("_")
    if len(parts) != 4 or not all(len(p) == 4 for p in parts):
        raise ValueError(f"HMS code must look like AAAA_BBBB_CCCC_DDDD, got {code!r}")
    attr = int(parts[0] + parts[1], 16)
    value = int(parts[2] + parts[3], 16)
    return {"attr": attr, "code": value}


class Faults:
    """Current fault settings. FTPS runs in its own thread, hence the lock."""

    def __init__(self):
        self._lock = threading.Lock()
        self.ftps_refuse = False  # new FTPS logins refused (421)
        self.ftps_cut_after: int | None = None  # next data transfer cut after this many bytes
        self.link_bytes_per_s: int | None = None  # FTPS data rate cap
        self._command_rejections: list[dict] = []

    def reject_next_command(self, reason: str, err_code: int | None) -> None:
        """The next `print.*` command is answered with result "fail"."""
        with self._lock:
            self._command_rejections.append({"reason": reason, "err_code": err_code})

    def take_command_rejection(self) -> dict | None:
        """Consume one pending rejection, if any."""
        with self._lock:
            return self._command_rejections.pop(0) if self._command_rejections else None

    def take_ftps_cut(self) -> int | None:
        """Consume the one-shot 'cut the next transfer' setting."""
        with self._lock:
            cut, self.ftps_cut_after = self.ftps_cut_after, None
            return cut

    def clear(self) -> None:
        """Back to a healthy printer."""
        with self._lock:
            self.ftps_refuse = False
            self.ftps_cut_after = None
            self.link_bytes_per_s = None
            self._command_rejections.clear()

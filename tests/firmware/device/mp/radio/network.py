"""Test-only WiFi radio for WifiManager tests (put before hardware/host on MICROPYPATH).

Station connects only to the SSID/password in $PRINTFARM_HUB_DIR/wifi_ap (one line
"ssid password"), so tests can make WiFi fail; access-point mode "runs" on loopback.
"""

import _hubdir

STA_IF = 0
AP_IF = 1
STAT_IDLE = 1000
STAT_CONNECTING = 1001
STAT_GOT_IP = 1010
STAT_WRONG_PASSWORD = 202
STAT_NO_AP_FOUND = 201
AUTH_OPEN = 0
AUTH_WPA2_PSK = 3


class WLAN:
    """network.WLAN for STA_IF and AP_IF."""

    def __init__(self, interface=STA_IF):
        self._if = interface
        self._active = False
        self._status = STAT_IDLE
        self._config = {"essid": "", "password": "", "authmode": AUTH_OPEN}

    def active(self, value=None):
        if value is None:
            return self._active
        self._active = bool(value)
        if not value:
            self._status = STAT_IDLE
        return None

    def connect(self, ssid, key=None):
        if not self._active:
            raise OSError("STA must be active")
        try:
            with open(_hubdir.path("wifi_ap")) as f:
                want = f.read().strip().split(" ", 1)
        except OSError:
            want = []
        if not want or want[0] != ssid:
            self._status = STAT_NO_AP_FOUND
        elif len(want) > 1 and want[1] != (key or ""):
            self._status = STAT_WRONG_PASSWORD
        else:
            self._status = STAT_GOT_IP

    def disconnect(self):
        self._status = STAT_IDLE

    def status(self, param=None):
        if param == "rssi":
            return -55
        return self._status

    def isconnected(self):
        if self._if == AP_IF:
            return self._active
        return self._status == STAT_GOT_IP

    def config(self, *args, **kwargs):
        if kwargs:
            self._config.update(kwargs)
            return None
        if args[0] == "mac":
            return b"\x24\x6f\x28\x00\x00\x01"
        return self._config.get(args[0])

    def ifconfig(self):
        if self._if == AP_IF:
            return ("127.0.0.1", "255.255.255.0", "127.0.0.1", "127.0.0.1")
        return ("127.0.0.1", "255.0.0.0", "127.0.0.1", "127.0.0.1")

    def scan(self):
        return [(b"farm-wifi", b"\x00" * 6, 6, -50, AUTH_WPA2_PSK, False)]

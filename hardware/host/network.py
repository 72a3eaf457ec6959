"""Host stand-in for the `network` module: the WLAN radio is always up on the host's loopback."""

STA_IF = 0
AP_IF = 1

STAT_IDLE = 1000
STAT_CONNECTING = 1001
STAT_GOT_IP = 1010
STAT_WRONG_PASSWORD = 202
STAT_NO_AP_FOUND = 201

_hostname = "printfarm-hub"


def hostname(name=None):
    """Get or set the DHCP host name."""
    global _hostname
    if name is None:
        return _hostname
    _hostname = name


class WLAN:
    """A radio that connects instantly to whatever it is told and keeps the link."""

    def __init__(self, interface=STA_IF):
        self._if = interface
        self._active = False
        self._ssid = None

    def active(self, state=None):
        """Get or set whether the interface is powered."""
        if state is None:
            return self._active
        self._active = bool(state)

    def connect(self, ssid=None, key=None, **kwargs):
        """Join a network (instantly, on the host)."""
        self._active = True
        self._ssid = ssid

    def disconnect(self):
        """Leave the network (the host keeps its loopback regardless)."""
        self._ssid = None

    def isconnected(self):
        """True while active: loopback is always reachable."""
        return self._active

    def status(self, param=None):
        """Link status, or the RSSI when asked for 'rssi'."""
        if param == "rssi":
            return -50
        return STAT_GOT_IP if self._active else STAT_IDLE

    def ifconfig(self, config=None):
        """(ip, netmask, gateway, dns) of the interface."""
        return ("127.0.0.1", "255.0.0.0", "127.0.0.1", "127.0.0.1")

    def config(self, *args, **kwargs):
        """Read 'mac', 'essid', 'hostname' or 'channel'; writes are accepted and ignored."""
        if not args:
            return None
        name = args[0]
        if name == "mac":
            import machine

            return machine.unique_id()
        if name in ("essid", "ssid"):
            return self._ssid or ""
        if name in ("hostname", "dhcp_hostname"):
            return _hostname
        if name == "channel":
            return 1
        raise ValueError("unknown config param")

    def scan(self):
        """No radio on the host: nothing to find."""
        return []

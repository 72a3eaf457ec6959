"""The settings a person enters in the portal, kept in the hub's NVS namespace.

Same namespace and keys as hub.config (fwcore): wifi_ssid, wifi_pass, cloud_url, hub_id.
The device layer reads them directly so provisioning and safe mode do not depend on the
application. Validation follows the WiFi and URL rules the radio and the cloud link need.
"""

import esp32
from micropython import const

NAMESPACE = "printfarm"
MAX_BLOB = const(256)  # longest setting read back (RAM cost: 256 B per read)
MAX_SSID = const(32)  # IEEE 802.11 SSID length in bytes
MIN_PSK = const(8)  # WPA2 passphrase: 8..63 characters
MAX_PSK = const(63)
MAX_URL = const(200)


class SettingsError(ValueError):
    """A setting a person entered is not acceptable (message says which and why)."""


class Settings:
    """Reads and writes the provisioning keys."""

    def __init__(self, namespace=NAMESPACE):
        self.namespace = namespace

    def get(self, key):
        """A stored string, or None."""
        buf = bytearray(MAX_BLOB)
        try:
            n = esp32.NVS(self.namespace).get_blob(key, buf)
        except OSError:
            return None
        return bytes(buf[:n]).decode()

    def wifi(self):
        """(ssid, password) or None when no WiFi is configured."""
        ssid = self.get("wifi_ssid")
        if not ssid:
            return None
        return ssid, self.get("wifi_pass") or ""

    def save(self, values):
        """Validate then store ssid/password/cloud_url in one commit; raises SettingsError."""
        clean = validate(values)
        nvs = esp32.NVS(self.namespace)
        nvs.set_blob("wifi_ssid", clean["ssid"])
        nvs.set_blob("wifi_pass", clean["password"])
        if clean.get("cloud_url"):
            nvs.set_blob("cloud_url", clean["cloud_url"])
        nvs.commit()
        return clean


def validate(values):
    """Checked copy of {ssid, password, cloud_url?}; raises SettingsError naming the field."""
    ssid = (values.get("ssid") or "").strip()
    password = values.get("password") or ""
    url = (values.get("cloud_url") or "").strip()
    if not ssid or len(ssid.encode()) > MAX_SSID:
        raise SettingsError("ssid: 1 to 32 bytes")
    if password and not MIN_PSK <= len(password) <= MAX_PSK:
        raise SettingsError("password: empty (open network) or 8 to 63 characters")
    if url:
        if len(url) > MAX_URL or not (url.startswith("wss://") or url.startswith("ws://")):
            raise SettingsError("cloud_url: a ws:// or wss:// URL")
        if len(url.split("//", 1)[1].split("/")[0]) == 0:
            raise SettingsError("cloud_url: missing host")
    return {"ssid": ssid, "password": password, "cloud_url": url}

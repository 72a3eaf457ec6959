"""The release public key (Ed25519, 32 bytes) that every OTA offer must be signed with.

Baked into the frozen image at build time: `hardware/README.md` shows the build writing the
real key here. Empty means no key: the hub then refuses every update (safe default).
"""

PUBLIC_KEY = b""

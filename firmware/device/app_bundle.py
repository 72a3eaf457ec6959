"""Application bundle format: the files of one application slot in a single signed download.

b"PFA1", then per file: name length (u16 big-endian), UTF-8 relative path, size (u32
big-endian), contents; a zero name length ends it. Paths are relative, "/"-separated, with no
"." or ".." parts, so a bundle can only write inside its slot. pack() runs on CPython too.
"""

import os
import struct

try:
    from micropython import const
except ImportError:  # CPython (release tooling, tests)

    def const(x):
        return x


MAGIC = b"PFA1"
MAX_NAME = const(128)  # longest path inside a bundle
COPY_BUF = const(1024)  # unpack copy buffer (RAM cost: 1 KiB)


class BundleError(ValueError):
    """The bundle is malformed or would write outside its slot."""


def pack(files):
    """Bundle bytes from [(relative path, bytes)]."""
    out = [MAGIC]
    for name, data in files:
        raw = _check_name(name).encode()
        out.append(struct.pack(">H", len(raw)) + raw + struct.pack(">I", len(data)) + bytes(data))
    out.append(b"\x00\x00")
    return b"".join(out)


def _check_name(name):
    parts = name.split("/")
    if not name or len(name) > MAX_NAME or name.startswith("/"):
        raise BundleError("bad path %r" % name)
    for part in parts:
        if part in ("", ".", ".."):
            raise BundleError("bad path %r" % name)
    return name


def _makedirs(path):
    built = ""
    for part in path.split("/"):
        built = part if not built else built + "/" + part
        try:
            os.mkdir(built)
        except OSError:
            pass


def _read_exact(f, n):
    data = f.read(n)
    if data is None or len(data) != n:
        raise BundleError("bundle truncated")
    return data


def unpack(path, dest):
    """Write the files of the bundle file at path under dest; return their names."""
    names = []
    buf = bytearray(COPY_BUF)
    with open(path, "rb") as f:
        if _read_exact(f, 4) != MAGIC:
            raise BundleError("not an application bundle")
        while True:
            (length,) = struct.unpack(">H", _read_exact(f, 2))
            if length == 0:
                break
            if length > MAX_NAME:
                raise BundleError("path too long")
            name = _check_name(_read_exact(f, length).decode())
            (size,) = struct.unpack(">I", _read_exact(f, 4))
            target = dest + "/" + name
            if "/" in name:
                _makedirs(target.rsplit("/", 1)[0])
            with open(target, "wb") as out:
                left = size
                while left:
                    n = f.readinto(memoryview(buf)[: min(COPY_BUF, left)])
                    if not n:
                        raise BundleError("bundle truncated in %s" % name)
                    out.write(memoryview(buf)[:n])
                    left -= n
            names.append(name)
    return names

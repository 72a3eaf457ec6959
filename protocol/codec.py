"""`packb`/`unpackb` for both runtimes: C msgpack on CPython, the pure codec on MicroPython."""

from protocol.errors import EncodeError, FrameTooLarge, MalformedFrame, ProtocolError
from protocol.limits import MAX_DEPTH, MAX_HUB_FRAME

try:
    import msgpack as _msgpack

    _C_AVAILABLE = hasattr(_msgpack, "ExtraData")
except ImportError:
    _C_AVAILABLE = False

if not _C_AVAILABLE:
    from protocol.umsgpack import packb, unpackb  # noqa: F401  (the MicroPython path)
else:
    _c_packb = _msgpack.packb

    def _reject_ext(code, data):
        raise MalformedFrame("ext type %d not allowed" % code)

    def _depth_exceeds(obj, max_depth):
        """True if containers nest deeper than `max_depth` (top-level container is depth 1)."""
        stack = [(obj, 1)]
        while stack:
            node, depth = stack.pop()
            if depth > max_depth:
                return True
            children = node.values() if type(node) is dict else node
            for child in children:
                if type(child) is dict or type(child) is list:
                    stack.append((child, depth + 1))
        return False

    def packb(obj):
        """Encode `obj` to msgpack bytes (bin type for bytes, smallest int/str/array forms)."""
        try:
            # A Packer per call (inside packb): cheap, and safe from any thread.
            return _c_packb(obj, use_bin_type=True)
        except (TypeError, ValueError, OverflowError) as exc:
            raise EncodeError(str(exc)) from None

    def unpackb(data, max_size=MAX_HUB_FRAME, max_depth=MAX_DEPTH):
        """Decode exactly one msgpack value from `data`; any defect raises MalformedFrame."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise MalformedFrame("frame must be bytes")
        size = len(data) if not isinstance(data, memoryview) else data.nbytes
        if size > max_size:
            raise FrameTooLarge("frame of %d bytes exceeds %d" % (size, max_size))
        # C msgpack has no depth option: count containers with the hooks (one cheap call each);
        # only a frame with more containers than the limit can be too deep, so only that one
        # pays for an exact walk.
        containers = [0]

        def count_list(value):
            containers[0] += 1
            return value

        def count_map(value):
            containers[0] += 1
            return value

        try:
            obj = _msgpack.unpackb(
                data,
                raw=False,
                strict_map_key=True,
                use_list=True,
                max_ext_len=0,
                ext_hook=_reject_ext,
                list_hook=count_list,
                object_hook=count_map,
            )
        except ProtocolError:
            raise
        except (ValueError, TypeError) as exc:
            # Truncation, claimed lengths beyond the data (max_buffer_size = len(data), checked
            # before allocating), 0xc1, bad UTF-8, non-str keys, trailing bytes, C stack limit.
            raise MalformedFrame(str(exc) or type(exc).__name__) from None
        if containers[0] > max_depth and _depth_exceeds(obj, max_depth):
            raise MalformedFrame("nesting deeper than %d" % max_depth)
        return obj

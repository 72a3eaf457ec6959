"""The one error family of the wire protocol, with the WebSocket close code each maps to."""

# WebSocket close codes (RFC 6455 section 7.4.1) a receiver uses when it drops a bad frame.
CLOSE_BAD_DATA = 1007
CLOSE_TOO_BIG = 1009


class ProtocolError(ValueError):
    """Base of every protocol failure: bad bytes, bad message, unencodable value."""

    close_code = CLOSE_BAD_DATA


class MalformedFrame(ProtocolError):
    """A frame that is not exactly one valid msgpack value within the limits."""


class FrameTooLarge(MalformedFrame):
    """A frame longer than the size limit of its channel."""

    close_code = CLOSE_TOO_BIG


class EncodeError(ProtocolError):
    """A value msgpack cannot carry (unsupported type, integer out of 64-bit range)."""


class InvalidMessage(ProtocolError):
    """A decoded message that breaks the catalogue; `field` names the offending field."""

    def __init__(self, field, problem):
        super().__init__(field + ": " + problem)
        self.field = field
        self.problem = problem

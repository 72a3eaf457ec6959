"""Field types of the message catalogue: each checks one value and names the field on failure."""

from protocol.errors import InvalidMessage


class Spec:
    """A field type; `check(value, path)` raises InvalidMessage naming `path`."""

    name = "value"

    def check(self, value, path):
        raise NotImplementedError


class Str(Spec):
    """A str; `nonempty` refuses ""."""

    name = "str"

    def __init__(self, nonempty=False):
        self.nonempty = nonempty

    def check(self, value, path):
        if type(value) is not str:
            raise InvalidMessage(path, "expected str")
        if self.nonempty and not value:
            raise InvalidMessage(path, "must not be empty")


class Int(Spec):
    """An int (never a bool or float), optionally within [minimum, maximum]."""

    name = "int"

    def __init__(self, minimum=None, maximum=None):
        self.minimum = minimum
        self.maximum = maximum

    def check(self, value, path):
        # bool is an int on CPython but never a valid int field.
        if type(value) is not int:
            raise InvalidMessage(path, "expected " + self.name)
        _check_range(self, value, path)


class Num(Int):
    """An int or float (not NaN, not bool), optionally within [minimum, maximum]."""

    name = "number"

    def check(self, value, path):
        if type(value) is not int and type(value) is not float:
            raise InvalidMessage(path, "expected number")
        if value != value:
            raise InvalidMessage(path, "must not be NaN")
        _check_range(self, value, path)


def _check_range(spec, value, path):
    if spec.minimum is not None and value < spec.minimum:
        raise InvalidMessage(path, "must be >= %s" % spec.minimum)
    if spec.maximum is not None and value > spec.maximum:
        raise InvalidMessage(path, "must be <= %s" % spec.maximum)


class Bool(Spec):
    """A bool."""

    name = "bool"

    def check(self, value, path):
        if type(value) is not bool:
            raise InvalidMessage(path, "expected bool")


class Bin(Spec):
    """A msgpack bin (bytes) of exactly `size` bytes."""

    name = "bin"

    def __init__(self, size):
        self.size = size

    def check(self, value, path):
        if type(value) is not bytes:
            raise InvalidMessage(path, "expected bin")
        if len(value) != self.size:
            raise InvalidMessage(path, "expected bin of %d bytes, got %d" % (self.size, len(value)))


class Hex(Str):
    """A str of exactly `length` hex digits (either case)."""

    name = "hex str"

    def __init__(self, length):
        self.length = length

    def check(self, value, path):
        if type(value) is not str:
            raise InvalidMessage(path, "expected str")
        if len(value) != self.length:
            raise InvalidMessage(path, "expected %d hex digits" % self.length)
        for ch in value:
            if ch not in "0123456789abcdefABCDEF":
                raise InvalidMessage(path, "expected %d hex digits" % self.length)


class Enum(Spec):
    """A str among `values`."""

    name = "str"

    def __init__(self, values):
        self.values = values

    def check(self, value, path):
        if type(value) is not str:
            raise InvalidMessage(path, "expected str")
        if value not in self.values:
            raise InvalidMessage(path, "must be one of " + "|".join(self.values))


class AnyMap(Spec):
    """A map with any content."""

    name = "map"

    def check(self, value, path):
        if type(value) is not dict:
            raise InvalidMessage(path, "expected map")


class Nullable(Spec):
    """nil or a value of `inner`."""

    def __init__(self, inner):
        self.inner = inner
        self.name = inner.name + " or nil"

    def check(self, value, path):
        if value is not None:
            self.inner.check(value, path)


class ListOf(Spec):
    """A list whose every item is an `item`; errors name the index."""

    name = "list"

    def __init__(self, item):
        self.item = item

    def check(self, value, path):
        if type(value) is not list:
            raise InvalidMessage(path, "expected list")
        item = self.item
        for i in range(len(value)):
            item.check(value[i], path + "[" + str(i) + "]")


class Struct(Spec):
    """A map with required and optional fields, tuples of (name, spec); extra keys are ignored."""

    name = "map"

    def __init__(self, required=(), optional=()):
        self.required = required
        self.optional = optional

    def check(self, value, path):
        if type(value) is not dict:
            raise InvalidMessage(path, "expected map")
        for field, spec in self.required:
            if field not in value:
                raise InvalidMessage(path + "." + field, "missing required field")
            spec.check(value[field], path + "." + field)
        for field, spec in self.optional:
            if field in value:
                spec.check(value[field], path + "." + field)


# Shared instances of the common field types.
STR = Str()
ID = Str(nonempty=True)
INT = Int()
COUNT = Int(minimum=0)
NUMBER = Num()
BOOL = Bool()
MAP = AnyMap()

"""Putting a decision input into rego-cpp through its C API, object keys in policy order.

regopy's ``set_input(dict)`` makes the same C calls through several Python layers per value;
here each JSON value is one direct call. Object keys go in ordered by where the policy first
names them (rego-cpp finds a key by comparing it with each key before it); Rego objects have
no order and these policies never iterate an object, so the order changes no decision.
"""

from __future__ import annotations

import ctypes
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from regopy import Interpreter, rego_shared

_NAMED_KEY = re.compile(r'(?:\.|")([A-Za-z_][A-Za-z0-9_]*)')
COMMENT = re.compile(r"#[^\n]*")
_ORDER_CACHE_LIMIT = 512
_INT64 = (-(2**63), 2**63 - 1)


def key_ranks(sources: Sequence[str]) -> dict[str, int]:
    """Each key the policy texts name, ranked by where it is first named (0 first)."""
    ranks: dict[str, int] = {}
    for text in sources:
        for name in _NAMED_KEY.findall(COMMENT.sub("", text)):
            ranks.setdefault(name, len(ranks))
    return ranks


class InputBuilder:
    """Builds a rego-cpp input straight through its C API, object keys in policy order.

    The pushes go through a ``PyDLL`` handle: each takes about a microsecond, of which letting go
    of the GIL and taking it back (a ``CDLL`` call) was a good part. Their results are not read:
    a failed push leaves the input in an error state that ``regoSetInput`` reports.
    """

    _SIGNATURES: tuple[tuple[str, list[Any]], ...] = (
        ("regoNewInput", []),
        ("regoSetInput", [ctypes.c_void_p, ctypes.c_void_p]),
        ("regoFreeInput", [ctypes.c_void_p]),
        ("regoInputString", [ctypes.c_void_p, ctypes.c_char_p]),
        ("regoInputInt", [ctypes.c_void_p, ctypes.c_int64]),
        ("regoInputFloat", [ctypes.c_void_p, ctypes.c_double]),
        ("regoInputBoolean", [ctypes.c_void_p, ctypes.c_bool]),
        ("regoInputNull", [ctypes.c_void_p]),
        ("regoInputObjectItem", [ctypes.c_void_p]),
        ("regoInputObject", [ctypes.c_void_p, ctypes.c_uint32]),
        ("regoInputArray", [ctypes.c_void_p, ctypes.c_uint32]),
    )

    def __init__(self, lib: Any, ranks: Mapping[str, int]) -> None:
        self._new = lib.regoNewInput
        self._set = lib.regoSetInput
        self._free = lib.regoFreeInput
        held = ctypes.PyDLL(lib._name)
        for name, argtypes in self._SIGNATURES:
            if name.startswith("regoInput"):
                function = getattr(held, name)
                function.argtypes = argtypes
                function.restype = None
        self._add = _value_adder(held, dict(ranks))

    @classmethod
    def load(cls, ranks: Mapping[str, int]) -> InputBuilder | None:
        """A builder over the library regopy loaded; None where it lacks the C input API."""
        try:
            lib = rego_shared.rego
            for name, argtypes in cls._SIGNATURES:
                if list(getattr(lib, name).argtypes or []) != argtypes:
                    return None
            if lib.regoNewInput.restype is not ctypes.c_void_p:
                return None
            return cls(lib, ranks)
        except (AttributeError, OSError):
            return None

    def set_input(self, interpreter: Interpreter, doc: Any) -> None:
        """Make ``doc`` the interpreter's input (rego-cpp copies it, so ours is freed here)."""
        handle = self._new()
        if not handle:
            raise MemoryError("regoNewInput failed")
        try:
            self._add(handle, doc)
            status = self._set(interpreter._impl, handle)
        finally:
            self._free(handle)
        if status != 0:
            raise ValueError(f"the embedded engine refused the input (status {status})")


def _value_adder(lib: Any, ranks: dict[str, int]) -> Callable[[int, Any], None]:
    """The function that pushes one JSON value (and all it holds) onto a rego-cpp input.

    Hot: about one C call per JSON value, so the common scalars are handled inline and the key
    order of each distinct set of object keys is worked out (and the keys encoded) once.
    """
    string, integer, real = lib.regoInputString, lib.regoInputInt, lib.regoInputFloat
    boolean, null = lib.regoInputBoolean, lib.regoInputNull
    item, make_object, make_array = (lib.regoInputObjectItem, lib.regoInputObject,
                                     lib.regoInputArray)
    orders: dict[tuple[Any, ...], tuple[tuple[str, bytes], ...]] = {}
    unranked = len(ranks)
    int_min, int_max = _INT64

    def ordered(obj: Mapping[Any, Any]) -> tuple[tuple[str, bytes], ...]:
        keys = tuple(obj)
        order = orders.get(keys)
        if order is None:
            if not all(type(key) is str for key in keys):
                raise ValueError("input object keys must be strings")
            order = tuple((key, key.encode())
                          for key in sorted(keys, key=lambda k: ranks.get(k, unranked)))
            if len(orders) < _ORDER_CACHE_LIMIT:
                orders[keys] = order
        return order

    def scalar(handle: int, value: Any, kind: type) -> None:
        if kind is str:
            string(handle, value.encode())
        elif kind is bool:
            boolean(handle, value)
        elif value is None:
            null(handle)
        elif kind is int:
            if not int_min <= value <= int_max:
                raise ValueError("input integer out of range")
            integer(handle, value)
        elif kind is float:
            real(handle, value)
        else:
            add(handle, value)

    def add(handle: int, value: Any) -> None:
        kind = type(value)
        if kind is dict or (kind is not str and isinstance(value, Mapping)):
            for key, raw in ordered(value):
                string(handle, raw)
                member = value[key]
                member_kind = type(member)
                if member_kind is str:
                    string(handle, member.encode())
                elif member is None:
                    null(handle)
                elif member_kind is bool:
                    boolean(handle, member)
                else:
                    scalar(handle, member, member_kind)
                item(handle)
            make_object(handle, len(value))
        elif kind is list or kind is tuple:
            for element in value:
                element_kind = type(element)
                if element_kind is str:
                    string(handle, element.encode())
                else:
                    scalar(handle, element, element_kind)
            make_array(handle, len(value))
        elif kind in (str, bool, int, float) or value is None:
            scalar(handle, value, kind)
        else:
            raise ValueError(f"cannot pass {kind.__name__} to the embedded engine")

    return add


# rego-cpp's C functions that evaluate an entrypoint and read the output, as regopy declares them.

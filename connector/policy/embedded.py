"""The in-process Rego engine (regopy), compiled once per policy revision.

regopy's interpreter is not safe to share between threads, so one lock guards the compiled
bundle; decisions are short (hundreds of microseconds) and the lock is never held across I/O.

Two things make a decision here cheap, neither changes what is decided:

* The input goes in through rego-cpp's C input builder (``regoNewInput``, ``regoInputString``,
  ...) called directly, one call per JSON value: regopy's ``set_input(dict)`` makes the same
  calls through several Python layers per value and costs about twice as much. Where the loaded
  library lacks those functions, ``Interpreter.set_input`` is used.
* Object keys go in ordered by where the policy first names them, keys it never names last.
  rego-cpp keeps an object's keys in input order and finds a key by comparing it with each key
  before it, so this order makes every lookup the policy does shorter. Rego objects have no
  order (OPA sorts them), and these policies never iterate an object, so the decision is the
  same whatever the order; the parity tests decide every case on both engines.

The bundle is built for the entrypoint ``connector/decision`` (the rule ``data.connector.decision``)
rather than for a query text: the same rule, evaluated without wrapping it in a query.
"""

from __future__ import annotations

import ctypes
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from regopy import Interpreter, rego_shared

from connector.policy.engine import (
    Decision,
    parse_decision,
    policy_files,
    policy_revision,
    unavailable,
)

QUERY = "data.connector.decision"
ENTRYPOINT = "connector/decision"

# A key the policy names: `.key` in a reference or "key" in a string, outside comments.
_NAMED_KEY = re.compile(r'(?:\.|")([A-Za-z_][A-Za-z0-9_]*)')
_COMMENT = re.compile(r"#[^\n]*")
_ORDER_CACHE_LIMIT = 512
_INT64 = (-(2**63), 2**63 - 1)


def key_ranks(sources: Sequence[str]) -> dict[str, int]:
    """Each key the policy texts name, ranked by where it is first named (0 first)."""
    ranks: dict[str, int] = {}
    for text in sources:
        for name in _NAMED_KEY.findall(_COMMENT.sub("", text)):
            ranks.setdefault(name, len(ranks))
    return ranks


class _InputBuilder:
    """Builds a rego-cpp input straight through its C API, object keys in policy order."""

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
        self._add = _value_adder(lib, dict(ranks))

    @classmethod
    def load(cls, ranks: Mapping[str, int]) -> _InputBuilder | None:
        """A builder over the library regopy loaded; None where it lacks the C input API."""
        try:
            lib = rego_shared.rego
            for name, argtypes in cls._SIGNATURES:
                if list(getattr(lib, name).argtypes or []) != argtypes:
                    return None
            if lib.regoNewInput.restype is not ctypes.c_void_p:
                return None
        except AttributeError:
            return None
        return cls(lib, ranks)

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


class EmbeddedEngine:
    """Evaluates ``data.connector.decision`` with regopy over the files of ``policy_dir``."""

    name = "embedded"

    def __init__(self, policy_dir: Path) -> None:
        self.policy_dir = policy_dir
        self.revision = policy_revision(policy_dir)
        self._lock = threading.Lock()
        self._error: str | None = None
        self._interpreter: Interpreter | None = None
        self._bundle: Any = None
        self._set_input: Callable[[Any], None] = lambda doc: None
        self._compile()

    def _compile(self) -> None:
        try:
            interpreter = Interpreter()
            files = policy_files(self.policy_dir)
            if not files:
                raise ValueError(f"no Rego files in {self.policy_dir}")
            sources = [path.read_text(encoding="utf-8") for path in files]
            for path, source in zip(files, sources, strict=True):
                interpreter.add_module(path.stem, source)
            self._bundle = interpreter.build(None, [ENTRYPOINT])
            builder = _InputBuilder.load(key_ranks(sources))
            if builder is None:
                self._set_input = lambda doc: interpreter.set_input(doc)
            else:
                self._set_input = lambda doc: builder.set_input(interpreter, doc)
            self._interpreter = interpreter
        except Exception as exc:  # noqa: BLE001 - any compile failure must become a deny
            self._error = f"policies failed to compile: {str(exc).splitlines()[0][:200]}"

    def decide(self, input_doc: Mapping[str, Any]) -> Decision:
        """Evaluate the policy; any interpreter error is a deny."""
        if self._interpreter is None or self._error:
            return unavailable(self.name, self.revision, self._error or "not compiled")
        try:
            with self._lock:
                self._set_input(input_doc)
                output = self._interpreter.query_bundle_entrypoint(self._bundle, ENTRYPOINT)
            results = output.results
            expressions = results[0].expressions if results else None
            raw = expressions[0] if isinstance(expressions, list) and expressions else None
        except Exception as exc:  # noqa: BLE001 - fail closed on anything the interpreter does
            return unavailable(self.name, self.revision, f"evaluation failed: {type(exc).__name__}")
        return parse_decision(raw, engine=self.name, revision=self.revision)

    def ready(self) -> str | None:
        """None when compiled; otherwise the compile error."""
        return self._error

    def close(self) -> None:
        """Nothing to release."""

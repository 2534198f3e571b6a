"""The in-process Rego engine (regopy), compiled once per policy revision.

regopy's interpreter is not safe to share between threads, so one lock guards the compiled
bundles; decisions are short (hundreds of microseconds) and the lock is never held across I/O.

What makes a decision here cheap; none of it changes what is decided:

* The input goes in through rego-cpp's C input builder (``regoNewInput``, ``regoInputString``,
  ...) called directly, one call per JSON value, not through regopy's Python layers.
* Object keys go in ordered by where the policy first names them, keys it never names last:
  rego-cpp finds a key by comparing it with each key before it. Rego objects have no order and
  these policies never iterate an object, so the decision is the same whatever the order.
* The result comes back through the C API too: the output's JSON (rendered by rego-cpp when it
  makes the output) read once into a reused buffer; regopy's ``Output`` reads it twice.
* rego-cpp checks every statement of a bundle on every query (``BundleDef::verify``), so a query
  costs in proportion to all the Rego in its bundle. Where the policies define
  ``fast_decision`` (one pass that only ever allows) and ``full_decision``, the plan of
  ``fast_decision`` is copied, with only the functions it can call, into a small bundle (saved
  as JSON, cut, loaded back) and asked first; where it is undefined the full bundle is asked for
  ``full_decision`` (``decision`` would run the one pass again). This relies on what
  connector.rego says and connector_test.rego tests: ``decision`` is ``fast_decision`` where
  that is defined and ``full_decision`` elsewhere.

Where the loaded library lacks a C function used here (or regopy declares it otherwise), the
regopy call is used instead. The parity tests decide every policy case on OPA and on this engine.
"""

from __future__ import annotations

import ctypes
import json
import re
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from regopy import Interpreter, NodeKind, RegoError, rego_shared

from connector.policy.engine import (
    Decision,
    parse_decision,
    policy_files,
    policy_revision,
    unavailable,
)
from connector.policy.rego_input import COMMENT, InputBuilder, key_ranks

QUERY = "data.connector.decision"
ENTRYPOINT = "connector/decision"
FAST_ENTRYPOINT = "connector/fast_decision"
FULL_ENTRYPOINT = "connector/full_decision"
# Policies that define both rules (each starts at the beginning of a line).
_DEFINES_SHORTCUT = (re.compile(r"^fast_decision\b", re.MULTILINE),
                     re.compile(r"^(default\s+)?full_decision\b", re.MULTILINE))
# ... and define ``decision`` once, as exactly this (whitespace aside): only then is asking
# fast_decision, else full_decision, the same as asking decision.
_DECISION_STARTS = re.compile(r"^(default\s+)?decision\b", re.MULTILINE)
_SHORTCUT = "decision := d if { d := fast_decision } else := full_decision"


def shortcut_holds(text: str) -> bool:
    """Whether the policy text (comments removed) is shaped for the two-bundle shortcut."""
    return (all(rule.search(text) for rule in _DEFINES_SHORTCUT)
            and len(_DECISION_STARTS.findall(text)) == 1
            and " ".join(text.split()).count(_SHORTCUT) == 1)

# A key the policy names: `.key` in a reference or "key" in a string, outside comments.
_OUTPUT_API: tuple[tuple[str, list[Any], Any], ...] = (
    ("regoBundleQueryEntrypoint", [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_char_p],
     ctypes.c_void_p),
    ("regoOutputNode", [ctypes.c_void_p], ctypes.c_void_p),
    ("regoNodeType", [ctypes.c_void_p], ctypes.c_uint32),
    ("regoOutputJSONSize", [ctypes.c_void_p], ctypes.c_uint32),
    ("regoOutputJSON", [ctypes.c_void_p, ctypes.POINTER(ctypes.c_char), ctypes.c_uint32],
     ctypes.c_uint32),
    ("regoFreeOutput", [ctypes.c_void_p], None),
)
_RESULTS, _UNDEFINED = 1017, 1014  # REGO_NODE_RESULTS, REGO_NODE_UNDEFINED (rego_c.h)


def _query(interpreter: Interpreter, bundle: Any, entrypoint: str) -> Callable[[], bytes | None]:
    """Evaluates ``entrypoint``: the output's JSON, ``undefined``, or None for an error.

    Through the C API where the library has it as regopy declares it, with one buffer kept for
    the next decision (so not thread-safe: called under the engine's lock); else through regopy.
    """
    lib = rego_shared.rego
    try:
        declared = all(list(getattr(lib, name).argtypes or []) == argtypes
                       and getattr(lib, name).restype is restype
                       for name, argtypes, restype in _OUTPUT_API)
    except AttributeError:
        declared = False
    if not declared:
        def through_regopy() -> bytes | None:
            output = interpreter.query_bundle_entrypoint(bundle, entrypoint)
            kind = output.node().kind
            if kind == NodeKind.Results:
                return str(output).encode()
            return b"undefined" if kind == NodeKind.Undefined else None

        return through_regopy
    run, node, node_type, size_of, render, free = (getattr(lib, n) for n, _, _ in _OUTPUT_API)
    args = (interpreter._impl, bundle._impl, entrypoint.encode())  # the engine keeps both alive
    buffers = [ctypes.create_string_buffer(4096)]

    def direct() -> bytes | None:
        output = run(*args)
        if not output:
            raise RegoError("the embedded engine returned no output")
        try:
            kind = node_type(node(output))
            if kind != _RESULTS:
                return b"undefined" if kind == _UNDEFINED else None
            size = size_of(output)
            if size > len(buffers[0]):
                buffers[0] = ctypes.create_string_buffer(size)
            if render(output, buffers[0], size) != 0:
                raise RegoError("the embedded engine could not render its output")
            return buffers[0].value
        finally:
            free(output)

    return direct


def first_expression(text: bytes | None) -> Any:
    """The first expression of the first result in an output's JSON, as regopy's ``Output``."""
    if text is None or text == b"undefined":
        return None
    parsed = json.loads(text)
    first = (parsed[0] if parsed else None) if isinstance(parsed, list) else parsed
    expressions = first.get("expressions") if isinstance(first, dict) else None
    return expressions[0] if isinstance(expressions, list) and expressions else None


def _calls(node: Any) -> list[str]:
    """The functions the statements in ``node`` call by name (a call by path cannot be cut to)."""
    if isinstance(node, list):
        return [name for child in node for name in _calls(child)]
    if not isinstance(node, dict):
        return []
    if node.get("type") == "CallDynamicStmt":
        raise ValueError("a dynamic call: every function may be needed")
    names = [node["stmt"]["func"]] if node.get("type") == "CallStmt" else []
    return names + [name for child in node.values() for name in _calls(child)]


def _fast_bundle(interpreter: Interpreter, bundle: Any) -> Any:
    """A bundle of the plan of ``fast_decision`` and what it can call; None where not possible."""
    try:
        with tempfile.TemporaryDirectory() as tmp:
            interpreter.save_bundle(tmp, bundle)
            path = Path(tmp) / "plan.json"
            plan = json.loads(path.read_text(encoding="utf-8"))
            plans = [p for p in plan["plans"]["plans"] if p["name"] == FAST_ENTRYPOINT]
            functions = {function["name"]: function for function in plan["funcs"]["funcs"]}
            kept: set[str] = set()
            todo = _calls(plans)
            while todo:
                name = todo.pop()
                if name in functions and name not in kept:
                    kept.add(name)
                    todo += _calls(functions[name]["blocks"])
            plan["plans"]["plans"] = plans
            plan["funcs"]["funcs"] = [functions[name] for name in functions if name in kept]
            path.write_text(json.dumps(plan), encoding="utf-8")
            fast = interpreter.load_bundle(tmp)
        return fast if plans and fast.ok() else None
    except (RegoError, OSError, LookupError, TypeError, ValueError):
        return None


def _interpreter(files: Sequence[Path], sources: Sequence[str]) -> Interpreter:
    """A new interpreter holding the modules (a build adds its entrypoints to the last one's)."""
    interpreter = Interpreter()
    for path, source in zip(files, sources, strict=True):
        interpreter.add_module(path.stem, source)
    return interpreter


class EmbeddedEngine:
    """Evaluates ``data.connector.decision`` with regopy over the files of ``policy_dir``."""

    name = "embedded"

    def __init__(self, policy_dir: Path) -> None:
        self.policy_dir = policy_dir
        self.revision = policy_revision(policy_dir)
        self._lock = threading.Lock()
        self._error: str | None = None
        self._interpreter: Interpreter | None = None
        self._bundles: list[Any] = []
        self._set_input: Callable[[Any], None] = lambda doc: None
        self._query: Callable[[], bytes | None] = lambda: None
        self._fast_query: Callable[[], bytes | None] | None = None
        self._full_query: Callable[[], bytes | None] = lambda: None
        self._compile()

    def _compile(self) -> None:
        try:
            files = policy_files(self.policy_dir)
            if not files:
                raise ValueError(f"no Rego files in {self.policy_dir}")
            sources = [path.read_text(encoding="utf-8") for path in files]
            text = COMMENT.sub("", "\n".join(sources))
            interpreter, fast_bundle = _interpreter(files, sources), None
            if shortcut_holds(text):
                bundle = interpreter.build(None, [ENTRYPOINT, FAST_ENTRYPOINT, FULL_ENTRYPOINT])
                fast_bundle = _fast_bundle(interpreter, bundle)
                if fast_bundle is None:
                    interpreter = _interpreter(files, sources)
            if fast_bundle is None:
                bundle = interpreter.build(None, [ENTRYPOINT])
            self._bundles = [bundle] if fast_bundle is None else [bundle, fast_bundle]
            builder = InputBuilder.load(key_ranks(sources))
            if builder is None:
                self._set_input = lambda doc: interpreter.set_input(doc)
            else:
                self._set_input = lambda doc: builder.set_input(interpreter, doc)
            self._query = _query(interpreter, bundle, ENTRYPOINT)
            if fast_bundle is not None:
                self._fast_query = _query(interpreter, fast_bundle, FAST_ENTRYPOINT)
                self._full_query = _query(interpreter, bundle, FULL_ENTRYPOINT)
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
                text = self._fast_query() if self._fast_query is not None else None
                if text == b"undefined":
                    text = self._full_query()
                if text is None:  # no shortcut, or it failed: ask for the decision itself
                    text = self._query()
            if text is None:
                raise RegoError("the embedded engine reported an error")
            raw = first_expression(text)
        except Exception as exc:  # noqa: BLE001 - fail closed on anything the interpreter does
            return unavailable(self.name, self.revision, f"evaluation failed: {type(exc).__name__}")
        return parse_decision(raw, engine=self.name, revision=self.revision)

    def ready(self) -> str | None:
        """None when compiled; otherwise the compile error."""
        return self._error

    def close(self) -> None:
        """Nothing to release."""

"""The in-process Rego engine (regopy), compiled once per policy revision.

regopy's interpreter is not safe to share between threads, so one lock guards the compiled
bundle; decisions are short (hundreds of microseconds) and the lock is never held across I/O.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from regopy import Interpreter

from connector.policy.engine import (
    Decision,
    parse_decision,
    policy_files,
    policy_revision,
    unavailable,
)

QUERY = "data.connector.decision"


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
        self._compile()

    def _compile(self) -> None:
        try:
            interpreter = Interpreter()
            files = policy_files(self.policy_dir)
            if not files:
                raise ValueError(f"no Rego files in {self.policy_dir}")
            for path in files:
                interpreter.add_module(path.stem, path.read_text(encoding="utf-8"))
            self._bundle = interpreter.build(QUERY)
            self._interpreter = interpreter
        except Exception as exc:  # noqa: BLE001 - any compile failure must become a deny
            self._error = f"policies failed to compile: {str(exc).splitlines()[0][:200]}"

    def decide(self, input_doc: Mapping[str, Any]) -> Decision:
        """Evaluate the policy; any interpreter error is a deny."""
        if self._interpreter is None or self._error:
            return unavailable(self.name, self.revision, self._error or "not compiled")
        try:
            with self._lock:
                self._interpreter.set_input(dict(input_doc))
                output = self._interpreter.query_bundle(self._bundle)
            doc = json.loads(str(output))
            expressions = doc.get("expressions") if isinstance(doc, dict) else None
            raw = expressions[0] if isinstance(expressions, list) and expressions else None
        except Exception as exc:  # noqa: BLE001 - fail closed on anything the interpreter does
            return unavailable(self.name, self.revision, f"evaluation failed: {type(exc).__name__}")
        return parse_decision(raw, engine=self.name, revision=self.revision)

    def ready(self) -> str | None:
        """None when compiled; otherwise the compile error."""
        return self._error

    def close(self) -> None:
        """Nothing to release."""

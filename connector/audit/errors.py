"""Errors of the audit log, a branch of the connector's one exception tree.

::

    ConnectorError
    └── AuditError                  500 audit (the log itself is broken, e.g. its stored tree)
        ├── TreeStateError          500 audit-tree-state (stored hashes missing or mis-sized)
        ├── ProofError              422 invalid-proof (inclusion or consistency proof fails)
        ├── CheckpointFormatError   422 malformed-checkpoint (C2SP tlog-checkpoint body)
        ├── NoteError               422 malformed-note (C2SP signed note or key text)
        │   └── SignatureError      422 invalid-signature (no valid signature from the key)
        └── VerificationError       422 verification-failed (an export does not match its
                                    checkpoint; carries ``index``, the first bad entry)

Every message names what failed (which proof hash, which line, which entry), so an auditor
can act on it without reading the code.
"""

from __future__ import annotations

from typing import Any

from connector.errors import ConnectorError


class AuditError(ConnectorError):
    """Base of every error raised by ``connector.audit``."""

    code = "audit"
    status = 500
    title = "Audit log error"


class TreeStateError(AuditError):
    """The stored tree state handed to a pure function is inconsistent."""

    code = "audit-tree-state"
    title = "Inconsistent stored Merkle tree state"


class ProofError(AuditError):
    """An RFC 9162 inclusion or consistency proof does not verify, or cannot be built."""

    code = "invalid-proof"
    status = 422
    title = "Invalid Merkle proof"


class CheckpointFormatError(AuditError):
    """A checkpoint body breaks the C2SP tlog-checkpoint format."""

    code = "malformed-checkpoint"
    status = 422
    title = "Malformed checkpoint"


class NoteError(AuditError):
    """A signed note, verifier key or signer key breaks the C2SP signed-note format."""

    code = "malformed-note"
    status = 422
    title = "Malformed signed note"


class SignatureError(NoteError):
    """A note carries no valid signature from the known key (or an invalid one from it)."""

    code = "invalid-signature"
    title = "Invalid note signature"


class VerificationError(AuditError):
    """An exported log does not match its signed checkpoint.

    ``index`` is the first entry found to be bad, or ``None`` when the damage cannot be
    located (e.g. every entry is well-formed but the recomputed root differs).
    """

    code = "verification-failed"
    status = 422
    title = "Audit log verification failed"

    def __init__(self, detail: str | None = None, *, index: int | None = None,
                 **extra: Any) -> None:
        super().__init__(detail, index=index, **extra)
        self.index = index

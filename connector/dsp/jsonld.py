"""JSON-LD for DSP 2025-1: bundled contexts only, expansion, compaction, normalisation.

The connector never fetches a context. ``load_document`` is a pyld document loader that serves the
two contexts bundled in ``contexts/`` and raises ``UnknownContext`` for any other URL.

``normalise_incoming(doc)`` turns a message compacted with the DSP context (possibly with extra
contexts or prefixes) or expanded into the canonical form: compacted with exactly
``["https://w3id.org/dspace/2025/1/context.jsonld"]``, compact string ``@type``. A document that
already is canonical (``canonical.is_canonical``, a walk over known shapes) is returned without
running pyld; everything else goes through pyld. Tests check that both paths agree.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Mapping
from typing import Any

from cachetools import LRUCache
from pyld import jsonld as pyld
from pyld.context_resolver import ContextResolver

from connector.dsp import bundle, canonical
from connector.dsp.bundle import DSP_CONTEXT
from connector.dsp.errors import InvalidMessage, UnknownContext

__all__ = ["DSP_CONTEXT", "compact", "expand", "install_document_loader", "load_document",
           "normalise_incoming", "normalise_with_report"]

# Our own cache of resolved (and, inside them, processed) contexts: isolated from pyld's global one,
# so no other loader in the process can put a different document under our URLs.
# Inline contexts of incoming documents land here too; room enough that they cannot push ours out.
_RESOLVED: LRUCache[str, Any] = LRUCache(maxsize=256)
# pyld's caches are plain dicts/LRUs without locking; the slow path runs under this lock.
_LOCK = threading.Lock()


def load_document(url: str, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """pyld document loader: the bundled contexts, nothing else, never the network."""
    served = bundle.served()
    if url not in served:
        raise UnknownContext(url)
    return {"contextUrl": None, "documentUrl": url, "document": copy.deepcopy(served[url]),
            "contentType": "application/ld+json", "tag": "static"}


def install_document_loader() -> None:
    """Make ``load_document`` pyld's process-wide default, so no other caller can fetch either."""
    pyld.set_document_loader(load_document)


def _options() -> dict[str, Any]:
    # base None: relative IRIs ("HttpData-PULL", "dateTime") stay relative instead of being
    # resolved against pyld's made-up default base.
    return {"documentLoader": load_document, "base": None,
            "contextResolver": ContextResolver(_RESOLVED, load_document)}


def expand(doc: Any) -> list[dict[str, Any]]:
    """Expanded form of ``doc`` (compacted or expanded), contexts from the bundle only."""
    result: list[dict[str, Any]] = _run(lambda: pyld.expand(doc, _options()))
    return result


def compact(doc: Any) -> dict[str, Any]:
    """``doc`` compacted with the DSP context; ``@context`` is the one-element list of it."""
    return _canonical_context(_compact(doc, dropped=None))


def normalise_incoming(doc: Any) -> dict[str, Any]:
    """The canonical compacted form of an incoming DSP message (see the module docstring)."""
    return normalise_with_report(doc)[0]


def normalise_with_report(doc: Any) -> tuple[dict[str, Any], list[str]]:
    """``normalise_incoming`` plus the properties JSON-LD dropped (undefined terms), in order."""
    try:
        return _normalise(doc)
    except RecursionError:
        raise InvalidMessage("the document is nested too deeply") from None


def _normalise(doc: Any) -> tuple[dict[str, Any], list[str]]:
    if isinstance(doc, list):
        if len(doc) != 1 or not isinstance(doc[0], dict):
            raise InvalidMessage(
                "a DSP message is one JSON object (expanded: a list of exactly one node object), "
                f"got a list of {len(doc)} item(s)")
    elif not isinstance(doc, dict):
        raise InvalidMessage(f"a DSP message must be a JSON object, got {_json_type(doc)}")
    elif canonical.is_canonical(doc, DSP_CONTEXT):
        return {"@context": [DSP_CONTEXT], **{k: v for k, v in doc.items() if k != "@context"}}, []
    node = doc[0] if isinstance(doc, list) else doc
    if "@context" not in node:
        _require_expanded(node)
    dropped: list[str] = []
    result = _compact(doc, dropped=dropped)
    if "@graph" in result:
        raise InvalidMessage("a DSP message is one node object; the document has several")
    return _canonical_context(result), dropped


def _require_expanded(node: Mapping[str, Any]) -> None:
    """Without ``@context`` a document must be expanded: keys and types absolute IRIs."""
    terms = [key for key in node if not key.startswith("@") and ":" not in key]
    types = node.get("@type", [])
    types = types if isinstance(types, list) else [types]
    terms += [f"@type {t!r}" for t in types if isinstance(t, str) and ":" not in t]
    if terms:
        raise InvalidMessage(
            f"missing @context: {', '.join(repr(t) if not t.startswith('@') else t for t in terms)}"
            f" mean nothing without it; a compacted DSP message must use {DSP_CONTEXT!r}")


def _compact(doc: Any, *, dropped: list[str] | None) -> dict[str, Any]:
    processor = pyld.JsonLdProcessor(
        on_property_dropped=(lambda prop: dropped.append(str(prop))) if dropped is not None
        else pyld.noop)
    result: dict[str, Any] = _run(lambda: processor.compact(doc, DSP_CONTEXT, _options()))
    return result


def _canonical_context(result: dict[str, Any]) -> dict[str, Any]:
    return {"@context": [DSP_CONTEXT], **{k: v for k, v in result.items() if k != "@context"}}


def _run(operation: Callable[[], Any]) -> Any:
    try:
        with _LOCK:
            return operation()
    except pyld.JsonLdError as error:
        raise _translate(error) from error
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        # pyld lets some malformed documents (e.g. "@context": "x") through as plain errors:
        # they are the sender's mistake, never a 500.
        raise InvalidMessage(f"invalid JSON-LD: {type(error).__name__}: {str(error)[:200]}") \
            from error


def _translate(error: BaseException) -> InvalidMessage:
    """The most specific cause in pyld's chain of wrapped errors, as an ``InvalidMessage``."""
    innermost: pyld.JsonLdError | None = None
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, UnknownContext):
            return UnknownContext(seen.url)
        if isinstance(seen, pyld.JsonLdError):
            innermost = seen
        seen = seen.__cause__ or seen.__context__
    assert innermost is not None
    detail = innermost.args[0] if innermost.args else "invalid JSON-LD"
    extra = innermost.details if isinstance(innermost.details, dict) else {}
    names = ", ".join(f"{k} {v!r}" for k, v in extra.items() if isinstance(v, str))
    code = f" ({innermost.code})" if innermost.code else ""
    return InvalidMessage(f"invalid JSON-LD{code}: {detail}" + (f" [{names}]" if names else ""))


def _json_type(value: Any) -> str:
    names = {str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    if value is None:
        return "null"
    return names.get(type(value), type(value).__name__)

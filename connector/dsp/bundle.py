"""The JSON-LD contexts the connector ships (``contexts/``), and the terms they define.

Read once from package data; nothing here touches the network.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

from connector.dsp.errors import UnknownContext

DSP_CONTEXT = "https://w3id.org/dspace/2025/1/context.jsonld"
ODRL_PROFILE = "https://w3id.org/dspace/2025/1/odrl-profile.jsonld"
BUNDLED = {DSP_CONTEXT: "dspace.jsonld", ODRL_PROFILE: "odrl.jsonld"}
_GEN_DELIMS = tuple(":/?#[]@")


def bundled_context(url: str) -> dict[str, Any]:
    """The context document published at ``url``, exactly as shipped (a fresh copy)."""
    if url not in BUNDLED:
        raise UnknownContext(url)
    return copy.deepcopy(_read(BUNDLED[url]))


@cache
def _read(name: str) -> dict[str, Any]:
    text = resources.files("connector.dsp").joinpath("contexts", name).read_text("utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


@cache
def served() -> dict[str, dict[str, Any]]:
    """What the document loader serves: the bundled documents, with ``@import`` applied.

    pyld (3.3) caches the result of an ``@import`` per active context rather than per importing
    context, and merges into the cached import in place. The DSP context imports the same ODRL
    profile from four type-scoped contexts, so whichever is processed first leaks into the others
    (after a ``Dataset``, a ``ContractAgreementMessage`` silently loses ``agreement``). Applying
    ``@import`` here, as JSON-LD 1.1 defines it (the imported definitions, overridden by the
    importing context's own), hands pyld contexts without ``@import``.
    """
    odrl = _read(BUNDLED[ODRL_PROFILE])
    imports = {ODRL_PROFILE: odrl["@context"]}
    return {DSP_CONTEXT: _apply_imports(_read(BUNDLED[DSP_CONTEXT]), imports), ODRL_PROFILE: odrl}


def _apply_imports(node: Any, imports: Mapping[str, Mapping[str, Any]]) -> Any:
    if isinstance(node, list):
        return [_apply_imports(item, imports) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _apply_imports(value, imports) for key, value in node.items()}
    url = out.pop("@import", None)
    if url is None:
        return out
    if url not in imports:
        raise UnknownContext(url)
    return {**copy.deepcopy(dict(imports[url])), **out}


@cache
def terms() -> frozenset[str]:
    """Every term any bundled context defines, in any scope."""
    found: set[str] = set()
    for document in served().values():
        _collect_terms(document["@context"], found)
    return frozenset(found)


def _collect_terms(context: Mapping[str, Any], found: set[str]) -> None:
    for key, definition in context.items():
        if key.startswith("@"):
            continue
        found.add(key)
        if isinstance(definition, dict) and isinstance(definition.get("@context"), dict):
            _collect_terms(definition["@context"], found)


@cache
def namespaces() -> tuple[str, ...]:
    """IRIs that compaction may shorten to a compact IRI: those of terms ending in a gen-delim."""
    prefixes: dict[str, str] = {}
    for document in served().values():
        for key, definition in document["@context"].items():
            if isinstance(definition, str) and definition.endswith(_GEN_DELIMS):
                prefixes[key] = definition
    found = set(prefixes.values())
    for document in served().values():
        found.update(_term_iris(document["@context"], prefixes))
    return tuple(sorted(iri for iri in found if iri.endswith(_GEN_DELIMS)))


def _term_iris(context: Mapping[str, Any], prefixes: Mapping[str, str]) -> set[str]:
    iris: set[str] = set()
    for key, definition in context.items():
        if key.startswith("@"):
            continue
        iri = definition.get("@id") if isinstance(definition, dict) else definition
        if isinstance(iri, str):
            prefix, _, rest = iri.partition(":")
            iris.add(prefixes[prefix] + rest if prefix in prefixes else iri)
        if isinstance(definition, dict) and isinstance(definition.get("@context"), dict):
            iris |= _term_iris(definition["@context"], prefixes)
    return iris

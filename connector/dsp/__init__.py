"""Dataspace Protocol 2025-1 wire format.

* ``jsonld`` — bundled contexts only (never fetched), ``expand``, ``compact``,
  ``normalise_incoming``.
* ``messages`` — pydantic models of every DSP document, ``parse_message``, ``dump_message``.
* ``odrl`` — the ODRL offer/agreement shapes DSP profiles.
* ``errors`` — ``InvalidMessage`` (and ``UnknownContext``), under ``connector.errors.BadRequest``.

Typical use in a route::

    message = parse_message(await request.json(), ContractRequestMessage)
    ...
    return dump_message(ContractNegotiation(provider_pid=..., consumer_pid=..., state="REQUESTED"))
"""

from connector.dsp.bundle import DSP_CONTEXT, ODRL_PROFILE
from connector.dsp.errors import InvalidMessage, UnknownContext
from connector.dsp.jsonld import compact, expand, normalise_incoming
from connector.dsp.messages import dump_message, parse_message

__all__ = [
    "DSP_CONTEXT",
    "ODRL_PROFILE",
    "InvalidMessage",
    "UnknownContext",
    "compact",
    "dump_message",
    "expand",
    "normalise_incoming",
    "parse_message",
]

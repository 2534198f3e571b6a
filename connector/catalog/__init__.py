"""Datasets, their sources and offers; the DSP catalog built from them.

* ``models`` — the ``dataset`` and ``offer`` tables (offers carry a ``policy_hash``).
* ``dcat`` — DCAT 3 / DSP 2025-1 ``Dataset`` and ``Catalog`` documents.
* ``service`` — the provider's catalog over DSP: pages (keyset cursors, filters) and datasets;
  ``visibility`` — one ``catalog`` decision per distinct policy, audited once.
* ``datasets``, ``offers`` — the management API's changes, with their audit entries;
  ``schemas`` — what that API reads and answers; ``evaluate`` — policy dry runs.
* ``sources`` — file / HTTP / SQL sources: ``check_source`` and ``open_stream`` (data plane).
* ``remote`` — another connector's catalog (consumer side).
"""

"""Participants known to this connector: providers, partners, auditors, data subjects."""

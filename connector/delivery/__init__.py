"""Outgoing DSP messages: queued in the sending transaction, delivered by a worker with retries."""

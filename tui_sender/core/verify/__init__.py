"""Proof of delivery: storage commitment and C-FIND verification of what a session stored.

A C-STORE success says the peer received an instance, not that the archive
kept it. This package asks the archive afterwards, by Storage Commitment
(:mod:`.commitment`) or by C-FIND (:mod:`.find`), and words each stored
instance's answer as one :class:`~tui_sender.core.model.verification.Verified` value that the record
carries (:mod:`.stage` runs it for a session or an earlier summary).
"""

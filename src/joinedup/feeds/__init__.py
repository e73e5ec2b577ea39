"""``feeds``: what partners send (FHIR R4, HL7 v2 ADT, CSV extracts), validated, taken or quarantined.

Parsers turn a delivered :class:`~joinedup.feeds.model.Message` into units; the pipeline
(:func:`~joinedup.feeds.pipeline.take_units`) stores the good ones through ``identity`` and
``records`` and keeps the bad ones in the quarantine with their reasons.
"""

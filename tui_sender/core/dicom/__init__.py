"""DICOM knowledge: UID registries, negotiation, conversion, statuses.

Pure functions and tables about the standard; the network layer below does
the talking.
"""

"""Plain data the whole core shares: catalog, outcomes, events, progress.

No I/O and no DICOM networking: every other layer may import it.
"""

"""The DIMSE link: opening associations, PDUs on the wire, the breaker.

Everything that touches a socket lives here and nowhere else in the core.
"""

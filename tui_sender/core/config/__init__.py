"""What the user configured and what tui-sender remembers.

Settings (TOML), the address book of destinations, the last choice, and the
state folder they live in.
"""

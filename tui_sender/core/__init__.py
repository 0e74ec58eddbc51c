"""The engine: scanning, registries, negotiation, transfer, sessions, records.

Nothing in this package may import Textual (a test and an import-linter
contract enforce it): the same engine runs under the TUI, the headless CLI
and cron.
"""

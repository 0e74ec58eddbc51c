"""Command-line subcommands.

Each module here exposes ``configure(parser)`` to declare its arguments and
``run(args) -> int`` to do the work and return the process exit code.
``tui_sender.cli`` wires them together. Commands may use Rich for output but
never Textual (except ``tui_sender.cli`` opening the app).
"""

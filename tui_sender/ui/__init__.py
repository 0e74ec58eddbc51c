"""The Textual app. It drives ``tui_sender.core`` and draws what it reports."""

"""The app's stylesheet (``app.tcss``) and colour themes (``*.toml``).

This top-level folder is installed as the package ``tui_sender.themes`` so the
files travel inside the wheel; the app finds them with importlib.resources,
never relative to a source checkout.
"""

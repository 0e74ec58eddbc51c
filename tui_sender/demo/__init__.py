"""The demo: an embedded receiver and generated sample studies.

Outside the core on purpose: the engine never needs it; ``tui-sender demo``,
the screenshots and the tests do.
"""

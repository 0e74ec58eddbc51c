"""tui-sender: push DICOM studies to PACS destinations with C-STORE.

The package has two halves that only meet through plain data:

* ``tui_sender.core`` scans, plans and sends. It never imports Textual, so the
  headless ``send`` command and scripts pay nothing for the UI.
* ``tui_sender.ui`` is the Textual app; it does no DICOM work itself.

The core is layered (engine > record > dicom > net > config > scan > model >
base, each importing only those below it); ``ARCHITECTURE.md`` draws it and
import-linter contracts in ``pyproject.toml`` enforce it.
"""

__version__ = "0.1.0"

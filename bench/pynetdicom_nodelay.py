"""pynetdicom's bundled storescu with Nagle's algorithm off: ``python -m bench.pynetdicom_nodelay``.

Same arguments as ``python -m pynetdicom storescu``. The bundled app never
sets ``TCP_NODELAY`` and has no option for it, so on small files each C-STORE
waits for the receiver's delayed ACK (~40 ms): 200 files of 3.5 KB took 9.0 s
as shipped and 0.8 s with the socket option set. This wrapper runs the very
same app with an AE that turns the option on when the connection opens, so
the bench can show both "what its users get" (the bar of the issue) and what
the library itself can do.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

from pynetdicom import AE, evt
from pynetdicom.apps.storescu import storescu
from pynetdicom.association import Association

from tui_sender.demo.receiver import set_tcp_nodelay


class NoDelayAE(AE):
    """An AE whose associations turn Nagle's algorithm off as the socket opens."""

    def associate(self, *args: Any, **kwargs: Any) -> Association:
        handlers = kwargs.get("evt_handlers") or []
        kwargs["evt_handlers"] = [*handlers, (evt.EVT_CONN_OPEN, set_tcp_nodelay)]
        return super().associate(*args, **kwargs)


def main(argv: Sequence[str] | None = None) -> None:
    """Run pynetdicom's storescu app with :class:`NoDelayAE` in place of its ``AE``."""
    # The app builds its AE from its module's ``AE`` name: swap that name only.
    storescu.AE = NoDelayAE  # type: ignore[attr-defined]
    run_app: Callable[[list[str]], None] = storescu.main
    run_app(list(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    main()

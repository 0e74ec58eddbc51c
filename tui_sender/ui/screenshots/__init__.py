"""The README screenshots and the snapshot tests' scenes: the real app, staged.

``python -m tui_sender.ui.screenshots [--out screenshots/]`` writes
``browser.svg``, ``destinations.svg``, ``dashboard.svg`` and ``summary.svg``
at 120x40 (see :mod:`.__main__`). ``tests/ui/test_snapshots.py`` replays the same
scenes at 80x24 and 120x40, so a README picture shows a screen the tests check.

Nothing in a picture may depend on the machine, the clock or the network, so
the app is staged, not mocked:

* sample studies from a fixed seed, in ``samples/`` under the working
  directory, given to the app as a relative path (no temporary path shows);
* :class:`~.showcase.ShowcaseApp` scans before its first frame and sends to
  a :class:`~.staged_session.StagedSession`, which opens no association and
  plays a script decided by the engine's own rules (:mod:`.staged_script`);
* :func:`~.clock.frozen_dashboard_clock` fixes the dashboard's elapsed time,
  rates and ETA;
* :mod:`.scenes` press the keys a user would, from start-up to each screen.
"""

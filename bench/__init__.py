"""Side-by-side benchmark of ``tui-sender send`` against DCMTK and pynetdicom.

Run it from the repository root with ``python -m bench.run`` (see
``bench/README.md``). The modules, one concept each:

* :mod:`bench.run`: the command line and the order of the runs;
* :mod:`bench.datasets`: the data sets, generated once and cached in ``bench/data``;
* :mod:`bench.receivers`: storescp (disk or ``--ignore``), Orthanc (also with its
  DICOMweb plugin) and the scripted STOW-RS server, fresh per run;
* :mod:`bench.senders`: the command lines of each sender and how to read their reports;
* :mod:`bench.pynetdicom_nodelay`: pynetdicom's storescu app with ``TCP_NODELAY`` on;
* :mod:`bench.dicomweb_client_send`: STOW-RS with dicomweb-client, as its users write it;
* :mod:`bench.children`: running sender processes with wall time, CPU and peak RSS;
* :mod:`bench.runner`: one run: fresh receiver, sender, measurement, verdict;
* :mod:`bench.results`: one run's numbers, medians over repeats, ratios;
* :mod:`bench.bars`: the issues' bars, checked against the medians;
* :mod:`bench.report`: the printed tables;
* :mod:`bench.extras`: scan speed and the memory of sending one 2 GB file;
* :mod:`bench.machine`: the machine and tool versions recorded with the results.
"""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
"""The source tree this bench belongs to; its ``tui_sender`` is the one measured."""

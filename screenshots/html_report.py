"""Regenerate ``screenshots/html-report.png``: a real session's HTML report, as a browser shows it.

Sends the generated "tiny" studies to a temporary Orthanc with storage
commitment, deletes one instance through Orthanc's REST API, verifies the
session again (one instance commit-failed), writes the report with
``tui-sender report`` and photographs it with headless Chromium. Needs the
test extra, Orthanc and Chromium (``apt-get install -y orthanc chromium``);
run from the checkout: ``python screenshots/html_report.py``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from peers.orthanc import OrthancServer  # noqa: E402
from peers.processes import free_port  # noqa: E402
from tui_sender.demo.samples.data import generate_samples  # noqa: E402

LISTENER_AE = "TUI_SENDER"
WINDOW = "1200,1900"
"""Wide enough for the tables, tall enough for the charts and the destinations."""


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    command = [
        sys.executable,
        "-c",
        "import sys; from tui_sender.cli import main; sys.exit(main())",
        *args,
    ]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300)


def main() -> int:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        print("needs chromium (apt-get install -y chromium)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp, OrthancServer() as orthanc:
        work = Path(tmp)
        samples = generate_samples(work / "samples", profile="tiny", seed=5)
        port = free_port()
        orthanc.declare_modality("tui", LISTENER_AE, port)
        commit = ["--commit-port", str(port), "--commit-host", "127.0.0.1"]
        sent = _cli("send", "-i", str(samples.root), "-r", "-a", orthanc.ae_title,
                    "-H", "127.0.0.1", "-p", str(orthanc.dicom_port), "-c", LISTENER_AE,
                    "-t", "4", "--verify", "commitment", *commit, cwd=work)  # fmt: skip
        print(sent.stdout, sent.stderr)
        (summary,) = (work / "logs").glob("dicom_sender_summary_*.json")
        base = f"http://127.0.0.1:{orthanc.http_port}"
        with urllib.request.urlopen(f"{base}/instances", timeout=10) as answer:
            one = json.load(answer)[3]
        gone = urllib.request.Request(f"{base}/instances/{one}", method="DELETE")
        urllib.request.urlopen(gone, timeout=10).close()
        print(_cli("verify", str(summary), *commit, cwd=work).stdout)
        (verified,) = (work / "logs").glob("*.verified.json")
        report = _cli("report", str(verified), "--out", str(work / "report"), cwd=work)
        print(report.stdout, report.stderr)
        (page,) = (work / "report").glob("*.html")
        subprocess.run(
            [browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             f"--window-size={WINDOW}", f"--screenshot={HERE / 'html-report.png'}",
             page.as_uri()],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
    print(HERE / "html-report.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())

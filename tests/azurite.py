"""A real Azurite (Azure Blob/ADLS emulator) server for the test session.

Started once per session on a free port chosen by the OS, with an explicit account key: nothing in
the tests ever lets an Azure credential chain run (which would call an address off this machine).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
AZURITE_MAIN = REPO / "node_modules" / "azurite" / "dist" / "src" / "blob" / "main.js"
ACCOUNT = "devstoreaccount1"
# Azurite's public, documented development key (not a secret).
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


@dataclass
class Azurite:
    """A running Azurite blob server."""

    process: subprocess.Popen[str]
    port: int

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/{ACCOUNT}"

    def storage_options(self, *, key: str = KEY) -> dict[str, Any]:
        return {"account_name": ACCOUNT, "account_key": key, "endpoint": self.endpoint, "allow_http": "true"}

    def new_container(self) -> str:
        return "c" + uuid.uuid4().hex[:20]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_azurite(workdir: Path) -> Azurite:
    node = shutil.which("node")
    if node is None or not AZURITE_MAIN.exists():
        raise RuntimeError("Azurite is not installed: run 'make test' (it runs 'npm ci') or 'npm ci' in the repo.")
    proc = subprocess.Popen(
        [node, str(AZURITE_MAIN), "--blobHost", "127.0.0.1", "--blobPort", "0", "--inMemoryPersistence",
         "--disableTelemetry", "--skipApiVersionCheck", "--loose"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=workdir,
    )
    deadline = time.time() + 60
    assert proc.stdout is not None
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            if proc.poll() is not None:
                raise RuntimeError(f"Azurite exited with code {proc.returncode}")
            continue
        match = re.search(r"listening on http://127\.0\.0\.1:(\d+)|listens on http://127\.0\.0\.1:(\d+)", line,
                          re.IGNORECASE)
        if match:
            port = int(match.group(1) or match.group(2))
            # Drain further output so the pipe never fills and blocks the server.
            import threading

            threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()  # type: ignore[union-attr]
            return Azurite(proc, port)
    proc.kill()
    raise RuntimeError("Azurite did not start within 60 s")

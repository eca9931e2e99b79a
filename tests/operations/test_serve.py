"""The real server: `conversa serve` under gunicorn, and the README's walk-through against it."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONVERSA = Path(sys.executable).with_name("conversa")
START_TIMEOUT_SECONDS = 30


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    def __init__(self, data_dir: Path, env: dict[str, str]) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        environment = {**os.environ, **env, "CONVERSA_DATA_DIR": str(data_dir), "PORT": str(self.port)}
        environment.pop("CONVERSA_DATABASE_URL", None)
        self.process = subprocess.Popen(
            [str(CONVERSA), "serve", "--workers", "2"],
            env=environment,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.banner = self._wait_until_healthy()

    def _wait_until_healthy(self) -> str:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the server exited: {self.process.stdout.read()}")  # type: ignore[union-attr]
            try:
                with urllib.request.urlopen(f"{self.base}/healthz", timeout=1) as response:
                    if response.status == 200:
                        return ""
            except OSError:
                time.sleep(0.2)
        raise AssertionError("the server did not answer /healthz in time")

    def stop(self) -> str:
        self.process.terminate()
        output, _ = self.process.communicate(timeout=30)
        return output


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[type[Server]]:
    started: list[Server] = []

    def start(**env: str) -> Server:
        server = Server(tmp_path / "data", env)
        started.append(server)
        return server

    yield start  # type: ignore[misc]
    for server in started:
        if server.process.poll() is None:
            server.stop()


def test_first_start_creates_an_admin_and_prints_its_token_once(serve: type[Server], tmp_path: Path) -> None:
    first = serve()
    output = first.stop()
    token = re.search(r"^\s+(cnv_\S+)$", output, re.MULTILINE)
    assert token, output
    assert (tmp_path / "data" / "conversa.sqlite").exists()

    second = serve()
    request = urllib.request.Request(f"{second.base}/v1/agents", headers={"Authorization": f"Bearer {token.group(1)}"})
    with urllib.request.urlopen(request, timeout=5) as response:
        agents = json.load(response)["items"]
        server_banner = response.headers.get("Server", "")
    assert not any(character.isdigit() for character in server_banner), server_banner  # no version
    assert [(a["name"], a["role"]) for a in agents] == [("admin", "admin")]
    assert "cnv_" not in second.stop()


@pytest.mark.skipif(not (shutil.which("curl") and shutil.which("jq")), reason="the walk-through needs curl and jq")
def test_the_readme_walkthrough_works_as_written(serve: type[Server]) -> None:
    server = serve(CONVERSA_BOOTSTRAP_TOKEN="cnv_walkthrough-token")
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- walkthrough:start -->\n```sh\n(.*?)```\n<!-- walkthrough:end -->", readme, re.S)
    assert block, "README.md lost its walk-through markers"
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block.group(1)],
        env={**os.environ, "TOKEN": "cnv_walkthrough-token", "PORT": str(server.port)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert '"kind": "complaint"' in result.stdout
    assert '"status": "resolved"' in result.stdout
    assert '"rating": 5' in result.stdout
    assert "urn:conversa:problem:validation" in result.stdout
    summaries = [line.split("  ", 1)[1] for line in result.stdout.splitlines() if re.match(r"^\d{4}-\d\d-\d\dT", line)]
    assert summaries[0] == "Registered as Dana Scully"
    assert summaries[-1] == "CSAT 5/5: “Fast and friendly”"
    assert any(s.startswith("Reply by admin:") for s in summaries)
    # The embedded projector has applied the NPS the read asked to include.
    assert '"latest_nps": 10' in result.stdout
    assert "promoter: latest NPS 10 (+40)" in result.stdout
    assert '"csat": 100,' in result.stdout


def test_rebuild_replaces_the_views_and_reports_progress(tmp_path: Path) -> None:
    environment = {**os.environ, "CONVERSA_DATA_DIR": str(tmp_path)}
    environment.pop("CONVERSA_DATABASE_URL", None)
    subprocess.run([str(CONVERSA), "agents", "create", "Ann", "--role", "agent"], env=environment, check=True)
    first = subprocess.run([str(CONVERSA), "rebuild"], env=environment, capture_output=True, text=True, check=True)
    second = subprocess.run([str(CONVERSA), "rebuild"], env=environment, capture_output=True, text=True, check=True)
    assert "views rebuilt as generation 2" in first.stdout
    assert "views rebuilt as generation 3" in second.stdout
    assert "events/s" in first.stdout + first.stderr

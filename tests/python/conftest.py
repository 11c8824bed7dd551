"""Fixtures for the Python package's tests: one suite over both modes.

`client` is parametrized: "embedded" opens a temporary directory in-process
(gannet.open, the nanobind extension); "remote" connects to a real `gannet serve` on a
free loopback port (gannet.connect), started once per module with an API key. The binary
comes from $GANNET_BIN, else ./build/gannet; the package is imported from $PYTHONPATH, else
from <the binary's directory>/python (where the build puts it).
"""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Iterator

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("GANNET_BIN") or REPO / "build" / "gannet").resolve()
API_KEY = "gannet-python-test-key"

if importlib.util.find_spec("gannet") is None:
    sys.path.insert(0, str(BIN.parent / "python"))

import gannet  # noqa: E402


def has_extension() -> bool:
    return importlib.util.find_spec("gannet._gannet") is not None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A running `gannet serve` with one API key."""

    def __init__(self, data_dir: Path, log_path: Path) -> None:
        if not BIN.exists():
            pytest.fail(f"gannet binary not found at {BIN}; build it or set GANNET_BIN")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.api_key = API_KEY
        env = dict(os.environ)
        env.pop("GANNET_DATA", None)
        env["GANNET_API_KEYS"] = API_KEY
        self.log_path = log_path
        self.log_file = open(log_path, "wb")
        self.proc = subprocess.Popen(
            [str(BIN), "--data", str(data_dir), "serve", "--listen", f"127.0.0.1:{self.port}"],
            stdout=subprocess.DEVNULL,
            stderr=self.log_file,
            env=env,
        )
        deadline = time.time() + 15
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gannet serve exited {self.proc.returncode}: {self.log()}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"gannet serve did not become healthy: {self.log()}")

    def log(self) -> str:
        self.log_file.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log_file.close()
        return int(self.proc.returncode)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    d = tmp_path_factory.mktemp("gannet-serve")
    s = Server(d / "data", d / "server.log")
    yield s
    rc = s.stop()
    assert rc == 0, f"gannet serve exit {rc}: {s.log()}"


@pytest.fixture(scope="module", params=["embedded", "remote"])
def client(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[gannet.Client]:
    if request.param == "embedded":
        if not has_extension():
            pytest.skip("gannet._gannet not built (nanobind missing at configure time)")
        c = gannet.open(tmp_path_factory.mktemp("gannet-embedded") / "data")
    else:
        srv = request.getfixturevalue("server")
        c = gannet.connect(srv.url, api_key=API_KEY)
    yield c
    c.close()


@pytest.fixture
def ns(client: gannet.Client) -> gannet.Namespace:
    return client.namespace("t-" + uuid.uuid4().hex[:12])

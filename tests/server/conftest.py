"""Fixtures for the end-to-end tests of `gannet serve`.

The binary comes from $GANNET_BIN, else ./build/gannet (relative to the repository root).
Each server runs on a free loopback port with its own data directory under pytest's
tmp_path, and is stopped with SIGTERM at teardown (which must exit 0: graceful drain).

The official turbopuffer client is pointed at a server with `base_url`; with a base_url
that has no "{region}" placeholder the client refuses a region, so TURBOPUFFER_REGION is
removed from the environment (and TURBOPUFFER_BASE_URL / TURBOPUFFER_API_KEY ignored).
"""

import os
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import requests

REPO = Path(__file__).resolve().parents[2]


def _binary():
    b = os.environ.get("GANNET_BIN")
    path = Path(b) if b else REPO / "build" / "gannet"
    if not path.is_absolute():
        path = (Path.cwd() / path).resolve()
    return path


BIN = _binary()


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A running `gannet serve` process."""

    def __init__(self, data_dir, log_path, args=(), env=None, host="127.0.0.1"):
        self.port = free_port()
        self.host = host
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir
        self.log_path = log_path
        full_env = dict(os.environ)
        full_env.pop("GANNET_API_KEYS", None)
        full_env.pop("GANNET_DATA", None)
        full_env.update(env or {})
        self.log_file = open(log_path, "wb")
        self.proc = subprocess.Popen(
            [str(BIN), "--data", str(data_dir), "serve", "--listen", f"{host}:{self.port}",
             *map(str, args)],
            stdout=subprocess.DEVNULL,
            stderr=self.log_file,
            env=full_env,
        )

    def wait_ready(self, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gannet serve exited {self.proc.returncode}:\n{self.log()}")
            try:
                if requests.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"gannet serve did not become healthy:\n{self.log()}")

    def log(self):
        if not self.log_file.closed:
            self.log_file.flush()
        return Path(self.log_path).read_text(errors="replace")

    def stop(self, timeout=30):
        """SIGTERM, wait, and return the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise
        self.log_file.close()
        return self.proc.returncode


@pytest.fixture(autouse=True)
def _require_binary():
    if not BIN.exists():
        pytest.fail(f"gannet binary not found at {BIN}; build it or set GANNET_BIN")


@pytest.fixture
def make_server(tmp_path):
    """Factory: make_server(args=(), env=None, data_dir=None) -> a started Server."""
    started = []

    def make(args=(), env=None, data_dir=None, host="127.0.0.1", wait=True):
        n = len(started)
        d = data_dir or tmp_path / f"data{n}"
        s = Server(d, tmp_path / f"server{n}.log", args=args, env=env, host=host)
        started.append(s)
        return s.wait_ready() if wait else s

    yield make
    for s in started:
        rc = s.stop()
        assert rc in (0, 1, 2), f"server exit code {rc}\n{s.log()}"


def _backends():
    # With an S3 server configured (scripts/run-tests.sh starts Ceph RGW), every test of
    # the shared server also runs against `gannet serve --data s3://...`.
    return ["local", "s3"] if os.environ.get("GANNET_TEST_S3_BUCKET") else ["local"]


@pytest.fixture(scope="module", params=_backends())
def server(request, tmp_path_factory):
    """One shared server without authentication (loopback), on a local directory and,
    when an S3 server is configured, on a fresh prefix of the test bucket."""
    d = tmp_path_factory.mktemp("gannet")
    data, env = d / "data", None
    if request.param == "s3":
        data = f"s3://{os.environ['GANNET_TEST_S3_BUCKET']}/e2e-{uuid.uuid4().hex[:12]}"
        env = {"GANNET_CACHE_DIR": str(d / "cache")}
    s = Server(data, d / "server.log", env=env).wait_ready()
    yield s
    rc = s.stop()
    assert rc == 0, f"graceful shutdown failed: exit {rc}\n{s.log()}"


@pytest.fixture
def ns_name():
    return "t-" + uuid.uuid4().hex[:12]


@pytest.fixture
def tpuf(server, monkeypatch):
    """The official turbopuffer client pointed at the shared server."""
    import turbopuffer

    for var in ("TURBOPUFFER_REGION", "TURBOPUFFER_BASE_URL", "TURBOPUFFER_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    return turbopuffer.Turbopuffer(api_key="unused-no-auth", base_url=server.url, max_retries=0)

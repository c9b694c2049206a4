"""Shared fixtures for the black-box suites: they drive the built binaries
in build/bin/ as an operator would, with real processes."""

import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import threading
import time

import pytest

import etcdpb

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(os.environ.get("ETCD_BIN_DIR", ROOT / "build" / "bin"))


def binary(name: str) -> pathlib.Path:
    path = BIN / name
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: build first (scripts/build release)")
    return path


def clean_env(**extra: str) -> dict:
    """The caller's environment without ETCD_* / ETCDCTL_* variables, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ETCD_", "ETCDCTL_"))}
    env.update(extra)
    return env


def run(name: str, *args: str, env: dict | None = None, cwd=None, timeout: float = 30):
    return subprocess.run(
        [str(binary(name)), *args],
        env=env if env is not None else clean_env(),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def etcd():
    """Runs build/bin/etcd with the given arguments; returns CompletedProcess."""

    def _run(*args: str, env: dict | None = None, cwd=None):
        return run("etcd", *args, env=env, cwd=cwd)

    return _run


# ---------------------------------------------------------------------------
# Running members. The suites below drive a real server (ours from BIN, or the
# reference etcd 3.4.23 for differential tests) with the reference etcdctl.
# ---------------------------------------------------------------------------

REFERENCE_ETCD = pathlib.Path("/usr/bin/etcd")
REFERENCE_ETCDCTL = pathlib.Path(os.environ.get("ETCDCTL_BIN", "/usr/bin/etcdctl"))

START_TIMEOUT_S = 15.0  # a member must answer `endpoint health` within this
STOP_TIMEOUT_S = 10.0  # SIGTERM, then SIGKILL after this
ETCDCTL_TIMEOUT_S = 20.0  # hard bound on one etcdctl process

_ports_lock = threading.Lock()
_ports_given: set[int] = set()


def free_ports(n: int) -> list[int]:
    """n distinct free TCP ports on 127.0.0.1: bound to port 0 together (so
    the kernel hands out different ones), then released. Ports handed out
    earlier in this session are not handed out again."""
    with _ports_lock:
        for _ in range(50):
            socks = []
            try:
                for _ in range(n):
                    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                    s.bind(("127.0.0.1", 0))
                    socks.append(s)
                ports = [s.getsockname()[1] for s in socks]
            finally:
                for s in socks:
                    s.close()
            if not _ports_given.intersection(ports):
                _ports_given.update(ports)
                return ports
        raise RuntimeError("could not find free ports")


def etcdctl_env() -> dict:
    return clean_env(ETCDCTL_API="3")


def run_etcdctl(endpoints: str, *args: str, input: str | None = None,
                timeout: float = ETCDCTL_TIMEOUT_S) -> subprocess.CompletedProcess:
    """The reference etcdctl with --endpoints set; returns CompletedProcess."""
    return subprocess.run(
        [str(REFERENCE_ETCDCTL), f"--endpoints={endpoints}", *args],
        env=etcdctl_env(),
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def error_line(r: subprocess.CompletedProcess) -> str:
    """The `Error: ...` line etcdctl prints last on stderr when a command fails."""
    lines = [l for l in r.stderr.splitlines() if l.startswith("Error:")]
    return lines[-1] if lines else ""


class EtcdProcess:
    """One member: our build/bin/etcd (or the reference /usr/bin/etcd), on its
    own two loopback ports, with its data dir and its log file under `base`."""

    def __init__(self, base: pathlib.Path, name: str = "infra1", reference: bool = False,
                 data_dir: pathlib.Path | None = None, extra_args: tuple = (),
                 env: dict | None = None):
        self.base = pathlib.Path(base)
        self.base.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.reference = reference
        self.binary = REFERENCE_ETCD if reference else binary("etcd")
        self.data_dir = pathlib.Path(data_dir) if data_dir else self.base / f"{name}.etcd"
        self.extra_args = tuple(extra_args)
        self.env = dict(env or {})  # ETCD_* variables for the server
        self.client_port, self.peer_port = free_ports(2)
        self.log_path = self.base / f"{name}.log"
        self.proc: subprocess.Popen | None = None
        self._log_file = None

    # -- addresses --
    @property
    def client_url(self) -> str:
        return f"http://127.0.0.1:{self.client_port}"

    @property
    def peer_url(self) -> str:
        return f"http://127.0.0.1:{self.peer_port}"

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.client_port}"

    def args(self) -> list[str]:
        return [
            "--name", self.name,
            "--data-dir", str(self.data_dir),
            "--listen-client-urls", self.client_url,
            "--advertise-client-urls", self.client_url,
            "--listen-peer-urls", self.peer_url,
            "--initial-advertise-peer-urls", self.peer_url,
            "--initial-cluster", f"{self.name}={self.peer_url}",
            *self.extra_args,
        ]

    # -- lifecycle --
    def start(self, *override: str, wait: bool = True) -> "EtcdProcess":
        """Starts the member; `override` arguments come after the defaults
        (the last occurrence of a flag wins). With `wait`, returns once
        `etcdctl endpoint health` succeeds, or fails the test after
        START_TIMEOUT_S with the log's tail."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self._close_log()
        self._log_file = open(self.log_path, "ab")
        self._log_file.write(f"=== start {' '.join(override)}\n".encode())
        self._log_file.flush()
        self.proc = subprocess.Popen(
            [str(self.binary), *self.args(), *override],
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            env=clean_env(**self.env),
            cwd=self.base,
        )
        if wait:
            self.wait_healthy()
        return self

    def wait_healthy(self, timeout: float = START_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        # First until the member knows a leader (Maintenance.Status needs no
        # raft round), then until a linearizable read succeeds (what
        # `endpoint health` does). Asking for a read before there is a leader
        # would stall on our server (see test_kv.py::test_read_right_after_start).
        phase = "leader"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"etcd exited with {self.proc.returncode} while starting:\n{self.log_tail()}")
            budget = max(1.0, min(3.0, deadline - time.monotonic()))
            t = f"--command-timeout={budget:.1f}s"
            try:
                if phase == "leader":
                    r = self.etcdctl("endpoint", "status", "-w", "json", t,
                                     "--dial-timeout=1s", timeout=budget + 2)
                    if r.returncode == 0 and json.loads(r.stdout)[0]["Status"].get("leader"):
                        phase = "health"
                        continue
                else:
                    r = self.etcdctl("endpoint", "health", t, "--dial-timeout=1s",
                                     timeout=budget + 2)
                    if r.returncode == 0:
                        return
                last = r.stderr.strip()[-300:]
            except (subprocess.TimeoutExpired, ValueError, IndexError, KeyError) as e:
                last = repr(e)
            time.sleep(0.1)
        raise AssertionError(
            f"etcd not healthy after {timeout}s (phase {phase}): {last}\n{self.log_tail()}")

    def wait_port(self, timeout: float = START_TIMEOUT_S) -> None:
        """Until the client port accepts TCP connections (or the process exits)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"etcd exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                socket.create_connection(("127.0.0.1", self.client_port), 0.2).close()
                return
            except OSError:
                time.sleep(0.01)
        raise AssertionError(f"client port never opened:\n{self.log_tail()}")

    def wait_exit(self, timeout: float = START_TIMEOUT_S) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"etcd did not exit within {timeout}s:\n{self.log_tail()}")

    def stop(self) -> int | None:
        """SIGTERM, SIGKILL after STOP_TIMEOUT_S; returns the exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=STOP_TIMEOUT_S)
        self._close_log()
        return self.proc.returncode

    def kill(self) -> None:
        """kill -9: no chance to flush or clean up."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=STOP_TIMEOUT_S)
        self._close_log()

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def _close_log(self):
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    # -- observation --
    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, n: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-n:])

    def log_entries(self) -> list[dict]:
        """The JSON log lines (ours are zap-shaped; the reference's are not JSON)."""
        out = []
        for line in self.log_text().splitlines():
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
        return out

    def etcdctl(self, *args: str, input: str | None = None,
                timeout: float = ETCDCTL_TIMEOUT_S) -> subprocess.CompletedProcess:
        return run_etcdctl(self.endpoint, *args, input=input, timeout=timeout)

    def ok(self, *args: str, input: str | None = None) -> str:
        """Runs etcdctl, asserts it succeeded, returns its stdout."""
        r = self.etcdctl(*args, input=input)
        assert r.returncode == 0, f"etcdctl {' '.join(args)} failed: {r.stderr}"
        return r.stdout

    def json(self, *args: str) -> dict | list:
        return json.loads(self.ok(*args, "-w", "json"))


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "mixed: clusters mixing our members with the reference etcd 3.4.23 "
        "(run by default; select with -m mixed, leave out with -m 'not mixed')")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Records each phase's report on the item, so fixtures can tell at
    teardown whether the test passed."""
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)


@pytest.fixture
def etcd_factory(tmp_path, request):
    """Makes EtcdProcess objects under tmp_path; stops every one at teardown
    (SIGTERM, then SIGKILL), even when the test failed. The data dirs of a
    passing test are removed (each WAL segment preallocates 64 MB); a
    failing test keeps them, and every log, for inspection."""
    made: list[EtcdProcess] = []

    def _make(name: str = "infra1", reference: bool = False, sub: str | None = None,
              **kw) -> EtcdProcess:
        base = tmp_path / (sub or ("ref" if reference else "ours"))
        p = EtcdProcess(base, name=name, reference=reference, **kw)
        made.append(p)
        return p

    yield _make
    for p in made:
        try:
            p.stop()
        except Exception:  # noqa: BLE001 - keep cleaning up the others
            p.kill()
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.passed:
        for p in made:
            shutil.rmtree(p.data_dir, ignore_errors=True)


@pytest.fixture
def member(etcd_factory) -> EtcdProcess:
    """A started single member of our etcd, healthy."""
    return etcd_factory().start()


@pytest.fixture
def etcdctl(member):
    """etcdctl(*args, input=None) against `member`; returns CompletedProcess."""

    def _run(*args: str, input: str | None = None, timeout: float = ETCDCTL_TIMEOUT_S):
        return member.etcdctl(*args, input=input, timeout=timeout)

    return _run


def wait_log(member, msg: str, timeout: float = 15.0, pred=lambda e: True) -> dict:
    """The first JSON log entry of `member` with `msg` (and `pred`), waiting
    up to `timeout` for it; fails the test with the log's tail otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for e in member.log_entries():
            if e.get("msg") == msg and pred(e):
                return e
        time.sleep(0.1)
    raise AssertionError(f"no {msg!r} in the log after {timeout}s:\n{member.log_tail()}")


class KvClient:
    """etcdserverpb.KV Put and Range over a plain gRPC channel, for tests
    that need many requests per second or several connections at once."""

    def __init__(self, endpoint: str):
        self._client = etcdpb.Client(endpoint)

    def put(self, key: str, value: str, timeout: float = 5.0) -> int:
        """Returns the revision of the acknowledged put."""
        return self._client.put(key.encode(), value.encode(), timeout=timeout).header.revision

    def get(self, key: str, serializable: bool = False,
            timeout: float = 5.0) -> tuple[int, dict | None]:
        """(header revision, kv or None) of one key; kv has key, value,
        create_revision, mod_revision, version."""
        resp = self._client.range(key.encode(), serializable=serializable, timeout=timeout)
        if not resp.kvs:
            return resp.header.revision, None
        kv = resp.kvs[0]
        return resp.header.revision, {
            "key": kv.key.decode(), "value": kv.value.decode(),
            "create_revision": kv.create_revision, "mod_revision": kv.mod_revision,
            "version": kv.version}

    def close(self):
        self._client.close()

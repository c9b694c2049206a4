"""etcdctl lock and elect (client-side recipes over leases, txns and
watches) on one of our servers: mutual exclusion between concurrent
processes, the waiter's cancel, the exec form's errors and environment,
elections with a waiting candidate and an observer; outputs and errors as
the reference etcdctl 3.4.23 prints them."""

import os
import pathlib
import re
import signal
import subprocess
import time

import pytest

from conftest import BIN, REFERENCE_ETCDCTL, EtcdProcess, etcdctl_env

CTL = pathlib.Path(os.environ.get("E2E_CTL", BIN / "etcdctl"))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    m = EtcdProcess(tmp_path_factory.mktemp("conc"), name="conc1")
    m.start()
    yield m
    m.stop()


def run(ctl, server, *args, timeout=20.0):
    return subprocess.run([str(ctl), f"--endpoints={server.endpoint}", *args],
                          env=etcdctl_env(), capture_output=True, timeout=timeout)


def ours(server, *args, **kw):
    return run(CTL, server, *args, **kw)


def ref(server, *args, **kw):
    return run(REFERENCE_ETCDCTL, server, *args, **kw)


def _without_cancel_warning(err: bytes) -> bytes:
    """The reference etcdctl, interrupted while a unary call is in flight,
    sometimes logs clientv3's 'retrying of unary invoker failed ... context
    canceled' warning (a race in its signal handling, not an outcome)."""
    return b"".join(line for line in err.splitlines(keepends=True)
                    if not (b"retrying of unary invoker failed" in line
                            and b"context canceled" in line))


class Proc:
    """A background etcdctl; killed at exit if still running."""

    def __init__(self, ctl, server, *args):
        self.reference = ctl == REFERENCE_ETCDCTL
        self.p = subprocess.Popen([str(ctl), f"--endpoints={server.endpoint}", *args],
                                  env=etcdctl_env(), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)

    def line(self) -> bytes:
        return self.p.stdout.readline()

    def stop(self, sig=signal.SIGINT, timeout=10.0):
        """Signals, then returns (exit code, the rest of stdout, stderr).
        Reads through the buffered pipes (what line() left buffered
        included); communicate() would bypass their buffers."""
        self.p.send_signal(sig)
        self.p.wait(timeout=timeout)
        # Both etcdctls log the warning when the signal lands during a
        # unary call (ours logs each failed attempt as clientv3 does).
        err = _without_cancel_warning(self.p.stderr.read())
        return self.p.returncode, self.p.stdout.read(), err

    def cleanup(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()


@pytest.fixture
def procs():
    made = []

    def _start(ctl, server, *args):
        p = Proc(ctl, server, *args)
        made.append(p)
        return p

    yield _start
    for p in made:
        p.cleanup()


def test_two_lock_processes_exclude_each_other(server, tmp_path):
    """Each holder appends `start` and `end` lines with timestamps around a
    sleep; the intervals never overlap."""
    log = tmp_path / "log"
    script = f'echo "start $ETCD_LOCK_KEY $(date +%s.%N)" >> {log}; sleep 0.6; ' \
             f'echo "end $ETCD_LOCK_KEY $(date +%s.%N)" >> {log}'
    ps = [subprocess.Popen([str(CTL), f"--endpoints={server.endpoint}", "lock", "excl", "--",
                            "sh", "-c", script], env=etcdctl_env(), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE) for _ in range(3)]
    try:
        for p in ps:
            out, err = p.communicate(timeout=30)
            assert (p.returncode, out, err) == (0, b"", b"")
    finally:
        for p in ps:
            if p.poll() is None:
                p.kill()
                p.wait()
    lines = [l.split() for l in log.read_text().splitlines()]
    assert len(lines) == 6
    keys = set()
    for i in range(0, 6, 2):
        (s, k1, t1), (e, k2, t2) = lines[i], lines[i + 1]
        assert (s, e) == ("start", "end") and k1 == k2, lines  # no interleaving
        assert k1.startswith("excl/")
        keys.add(k1)
        assert float(t2) - float(t1) >= 0.5
    assert len(keys) == 3
    # every holder deleted its key after its command
    assert ref(server, "get", "--prefix", "excl/").stdout == b""


def test_lock_env_rev_and_command_errors_as_etcdctl(server):
    r = ours(server, "lock", "envl", "--", "sh", "-c",
             'echo "$ETCD_LOCK_KEY $ETCD_LOCK_REV"')
    assert r.returncode == 0, r.stderr
    key, rev = r.stdout.split()
    assert re.fullmatch(rb"envl/[0-9a-f]+", key)
    # the revision the lock was granted at: the put of its key
    assert int(rev) > 1
    for args in (["lock", "el", "--", "sh", "-c", "exit 3"],
                 ["lock", "el", "--", "sh", "-c", "kill -TERM $$"],
                 ["lock", "el", "no-such-command-xyz"],
                 ["lock", "el", "./no/such/path"],
                 ["lock"],
                 ["lock", "--ttl", "x", "el"],
                 ["elect"],
                 ["elect", "a"],
                 ["elect", "-l", "a", "b"],
                 ["elect", "a", "b", "c"]):
        a, b = ours(server, *args), ref(server, *args)
        assert (a.returncode, a.stdout, a.stderr) == (b.returncode, b.stdout, b.stderr), args
    assert ref(server, "get", "--prefix", "el/").stdout == b""


def lock_output_norm(out: bytes) -> bytes:
    # ids and lease ids in decimal (not the digits inside a hex id)
    out = re.sub(rb"(?<![0-9a-f])\d{6,}(?![0-9a-f])", b"<N>", out)
    out = re.sub(rb"NAME/[0-9a-f]{1,16}", b"NAME/<LEASE>", out)  # the key (simple, fields)
    out = re.sub(rb'"(revision|create_revision|mod_revision)":\d+', rb'"\1":R', out)
    out = re.sub(rb'"(Revision|CreateRevision|ModRevision)" : \d+', rb'"\1" : R', out)
    out = re.sub(rb'"key":"[^"]*"', b'"key":K', out)
    return out


@pytest.mark.parametrize("fmt", ["simple", "json", "fields", "table"])
def test_lock_prints_its_key_and_releases_on_signal(server, procs, fmt):
    outs = []
    for ctl, name in ((CTL, "pl-ours"), (REFERENCE_ETCDCTL, "pl-ref")):
        p = procs(ctl, server, "-w", fmt, "lock", name)
        if fmt == "table":
            rc, out, err = p.p.wait(timeout=10), p.p.stdout.read(), p.p.stderr.read()
        else:
            first = p.line()  # printed once the lock is held
            assert ref(server, "get", "--prefix", name + "/", "--keys-only").stdout != b""
            time.sleep(0.2)  # the rest of the output
            rc, out, err = p.stop(signal.SIGINT if ctl == CTL else signal.SIGTERM)
            out = first + out
            assert ref(server, "get", "--prefix", name + "/").stdout == b""
        outs.append((rc, lock_output_norm(out.replace(name.encode(), b"NAME")), err))
    assert outs[0] == outs[1]
    if fmt == "simple":
        assert re.fullmatch(rb"NAME/<LEASE>\n\n", outs[0][1])
    if fmt == "table":
        assert outs[0][0] == 4


def test_waiting_lock_cancelled_by_signal(server, procs):
    holder = procs(CTL, server, "lock", "wl")
    key = holder.line()
    assert key.startswith(b"wl/")
    waiter = procs(CTL, server, "lock", "wl")
    time.sleep(1.0)
    assert waiter.p.poll() is None
    keys = ref(server, "get", "--prefix", "wl/", "--keys-only").stdout.split()
    assert len(keys) == 2  # the waiter queued its own key
    rc, out, err = waiter.stop(signal.SIGINT)
    assert (rc, out, err) == (1, b"", b"Error: context canceled\n")
    # the waiter's key is gone, the holder's stays
    assert ref(server, "get", "--prefix", "wl/", "--keys-only").stdout.split() == \
        [key.rstrip(b"\n")]
    rc, out, err = holder.stop(signal.SIGTERM)
    assert (rc, out, err) == (0, b"\n", b"")  # the rest: the key's empty value
    assert ref(server, "get", "--prefix", "wl/").stdout == b""


def test_election_with_waiting_candidate_and_observer(server, procs):
    observer = procs(CTL, server, "elect", "-l", "el1")
    time.sleep(0.5)
    first = procs(CTL, server, "elect", "el1", "first")
    k1 = first.line()
    assert k1.startswith(b"el1/") and first.line() == b"first\n"
    second = procs(CTL, server, "elect", "el1", "second")
    time.sleep(1.0)
    assert second.p.poll() is None  # waiting behind the leader
    assert observer.line() == k1 and observer.line() == b"first\n"
    rc, out, err = first.stop(signal.SIGINT)  # resigns
    assert (rc, out, err) == (0, b"", b"")
    k2 = second.line()
    assert k2.startswith(b"el1/") and k2 != k1 and second.line() == b"second\n"
    assert observer.line() == k2 and observer.line() == b"second\n"
    # a reference observer joining now sees the same leader
    robs = procs(REFERENCE_ETCDCTL, server, "elect", "-l", "el1")
    assert robs.line() == k2 and robs.line() == b"second\n"
    rc, out, err = second.stop(signal.SIGTERM)
    assert (rc, err) == (0, b"")
    rc, out, err = observer.stop(signal.SIGINT)
    assert (rc, out, err) == (0, b"", b"")
    assert ref(server, "get", "--prefix", "el1/").stdout == b""


def test_observer_follows_a_reference_candidate_and_json(server, procs):
    cand = procs(REFERENCE_ETCDCTL, server, "elect", "el2", "v1")
    k = cand.line()
    assert cand.line() == b"v1\n"
    a = procs(CTL, server, "-w", "json", "elect", "-l", "el2")
    b = procs(REFERENCE_ETCDCTL, server, "-w", "json", "elect", "-l", "el2")
    la, lb = a.line(), b.line()
    assert la == lb and b'"kvs":[{"key":' in la
    cand.stop(signal.SIGINT)
    ra, rb = a.stop(), b.stop()
    assert ra == rb
    assert k.startswith(b"el2/")


def test_lock_session_lost_when_its_lease_is_revoked(server, procs):
    """Revoking the holder's lease from outside ends its session (found at
    the next keep-alive, a third of --ttl later): 'session expired', exit 1,
    as the reference's."""
    results = []
    for ctl, name in ((CTL, "sl-ours"), (REFERENCE_ETCDCTL, "sl-ref")):
        p = procs(ctl, server, "lock", "--ttl", "3", name)
        key = p.line()
        lease = key.rstrip(b"\n").split(b"/")[1].decode()
        assert ref(server, "lease", "revoke", lease).returncode == 0
        assert p.p.wait(timeout=10) == 1
        results.append((p.p.stdout.read(), p.p.stderr.read()))
    assert results[0] == results[1] == (b"\n", b"Error: session expired\n")

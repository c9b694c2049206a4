"""etcdctl lease grant|revoke|timetolive|list|keep-alive: our etcdctl against
the reference etcdctl 3.4.23 on one of our servers, every output format;
a lease's expiry releases a lock held under it."""

import os
import pathlib
import re
import signal
import subprocess
import time

import pytest

from conftest import BIN, REFERENCE_ETCDCTL, EtcdProcess, etcdctl_env

CTL = pathlib.Path(os.environ.get("E2E_CTL", BIN / "etcdctl"))
FORMATS = ["simple", "json", "fields", "protobuf", "table"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    m = EtcdProcess(tmp_path_factory.mktemp("lease"), name="lease1")
    m.start()
    yield m
    m.stop()


def run(ctl, server, *args, timeout=20.0):
    r = subprocess.run([str(ctl), f"--endpoints={server.endpoint}", *args], env=etcdctl_env(),
                       capture_output=True, timeout=timeout)
    return r


def ours(server, *args, **kw):
    return run(CTL, server, *args, **kw)


def ref(server, *args, **kw):
    return run(REFERENCE_ETCDCTL, server, *args, **kw)


def grant(server, ttl=600) -> str:
    r = ref(server, "lease", "grant", str(ttl))
    assert r.returncode == 0, r.stderr
    return r.stdout.split()[1].decode()


def norm_ids(out: bytes, ids: list[str]) -> bytes:
    """Replaces the given lease ids (hex, and decimal as json/fields print
    them) by placeholders."""
    for i, h in enumerate(ids):
        out = out.replace(h.encode(), f"<ID{i}>".encode())
        out = out.replace(str(int(h, 16)).encode(), f"<ID{i}>".encode())
    return out


def lease_id_of(out: bytes, fmt: str) -> str:
    if fmt == "simple":
        return out.split()[1].decode()
    if fmt == "json":
        return "%016x" % int(re.search(rb'"ID":(\d+)', out).group(1))
    if fmt == "fields":
        return "%016x" % int(re.search(rb'"ID" : (\d+)', out).group(1))
    raise AssertionError(fmt)


@pytest.mark.parametrize("fmt", FORMATS)
def test_grant_prints_as_etcdctl(server, fmt):
    a = ours(server, "-w", fmt, "lease", "grant", "60")
    b = ref(server, "-w", fmt, "lease", "grant", "60")
    assert (a.returncode, a.stderr) == (b.returncode, b.stderr)
    if fmt in ("simple", "json", "fields"):
        assert norm_ids(a.stdout, [lease_id_of(a.stdout, fmt)]) == \
            norm_ids(b.stdout, [lease_id_of(b.stdout, fmt)])
        if fmt == "simple":
            assert re.fullmatch(rb"lease [0-9a-f]{16} granted with TTL\(60s\)\n", a.stdout)
    else:
        # protobuf: the header alone (a grant leaves the revision as it is);
        # table: unsupported, exit 4.
        assert a.stdout == b.stdout


@pytest.mark.parametrize("fmt", FORMATS)
def test_timetolive_and_keep_alive_once_print_as_etcdctl(server, fmt):
    lease = grant(server, 1000)
    for k in ("ttl/a", "ttl/b"):
        assert ref(server, "put", k, "v", "--lease", lease).returncode == 0
    for args in (["lease", "timetolive", lease, "--keys"], ["lease", "timetolive", lease],
                 ["lease", "keep-alive", "--once", lease]):
        a = ours(server, "-w", fmt, *args)
        b = ref(server, "-w", fmt, *args)
        assert (a.returncode, a.stderr) == (b.returncode, b.stderr), args
        # the remaining TTL may tick between the two runs
        pat = rb"remaining\(\d+s\)|\"ttl\":\d+|\"TTL\" : \d+"
        assert re.sub(pat, b"T", a.stdout) == re.sub(pat, b"T", b.stdout), args
    if fmt == "simple":
        a = ours(server, "lease", "timetolive", lease, "--keys")
        assert re.fullmatch(
            rb"lease %s granted with TTL\(1000s\), remaining\(\d+s\), attached keys\(\[ttl/a "
            rb"ttl/b\]\)\n" % lease.encode(), a.stdout)


@pytest.mark.parametrize("fmt", FORMATS)
def test_list_prints_as_etcdctl(server, fmt):
    grant(server)
    a = ours(server, "-w", fmt, "lease", "list")
    b = ref(server, "-w", fmt, "lease", "list")
    assert (a.returncode, a.stdout, a.stderr) == (b.returncode, b.stdout, b.stderr)


@pytest.mark.parametrize("fmt", FORMATS)
def test_revoke_prints_as_etcdctl(server, fmt):
    l1, l2 = grant(server), grant(server)
    a = ours(server, "-w", fmt, "lease", "revoke", l1)
    b = ref(server, "-w", fmt, "lease", "revoke", l2)
    assert (a.returncode, norm_ids(a.stderr, [l1])) == (b.returncode, norm_ids(b.stderr, [l2]))
    assert norm_ids(a.stdout, [l1]) == norm_ids(b.stdout, [l2])
    if fmt == "protobuf":
        assert a.returncode == 4
        assert a.stderr.startswith(
            b"Error: marshal unsupported for type clientv3.LeaseRevokeResponse ({cluster_id:")
    # revoked either way: the lease is gone
    assert b"already expired" in ours(server, "lease", "timetolive", l1).stdout


def without_client_logs(stderr: bytes) -> bytes:
    """stderr without the client's zap log lines (retries): both etcdctls
    log them, with times and client ids that differ between runs."""
    return b"".join(l for l in stderr.splitlines(keepends=True)
                    if not l.startswith(b'{"level":'))


def last_error(r) -> bytes:
    lines = [l for l in r.stderr.splitlines() if l.startswith(b"Error:")]
    return lines[-1] if lines else b""


@pytest.mark.parametrize("args", [
    ["lease", "grant"],
    ["lease", "grant", "x"],
    ["lease", "grant", "1", "2"],
    ["lease", "revoke"],
    ["lease", "revoke", "xyz"],
    ["lease", "revoke", "0x12"],
    ["lease", "revoke", "ffffffffffffffffff"],
    ["lease", "timetolive"],
    ["lease", "timetolive", "zz"],
    ["lease", "timetolive", "1234"],
    ["-w", "json", "lease", "timetolive", "1234"],
    ["-w", "fields", "lease", "timetolive", "--", "-1234"],
    ["lease", "timetolive", "-1234"],
    ["lease", "keep-alive"],
    ["lease", "keep-alive", "--once", "1234"],
    ["lease", "keep-alive", "1234"],
    ["-w", "json", "lease", "keep-alive", "1234"],
])
def test_errors_and_missing_leases_as_etcdctl(server, args):
    a = ours(server, *args)
    b = ref(server, *args)
    assert (a.returncode, a.stdout) == (b.returncode, b.stdout), args
    assert without_client_logs(a.stderr) == without_client_logs(b.stderr)


@pytest.mark.parametrize("args,err", [
    (["lease", "revoke", "1234"], b"Error: failed to revoke lease (etcdserver: requested lease "
                                  b"not found)"),
    (["lease", "grant", "99999999999"], b"Error: failed to grant lease (etcdserver: too large "
                                        b"lease TTL)"),
])
def test_server_errors_as_etcdctl(server, args, err):
    a = ours(server, *args)
    b = ref(server, *args)
    assert (a.returncode, a.stdout, last_error(a)) == (b.returncode, b.stdout, last_error(b))
    assert without_client_logs(a.stderr) == without_client_logs(b.stderr) == err + b"\n"
    # Each side logged the failed attempt (a run of "retrying" lines).
    assert (a.stderr.startswith(b'{"level":"warn"') == b.stderr.startswith(b'{"level":"warn"'))
    assert a.returncode == 1


def test_keep_alive_renews_until_revoked(server):
    lease = grant(server, 3)
    p = subprocess.Popen([str(CTL), f"--endpoints={server.endpoint}", "lease", "keep-alive",
                          lease], env=etcdctl_env(), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    try:
        line = f"lease {lease} keepalived with TTL(3)\n".encode()
        # the first renewal at once, then every TTL/3 = 1 s
        assert p.stdout.readline() == line
        t0 = time.monotonic()
        assert p.stdout.readline() == line
        assert p.stdout.readline() == line
        assert time.monotonic() - t0 < 5
        time.sleep(3.5)  # past the TTL: still alive thanks to the renewals
        assert b"remaining" in ref(server, "lease", "timetolive", lease).stdout
        assert ref(server, "lease", "revoke", lease).returncode == 0
        out, err = p.communicate(timeout=10)
        assert p.returncode == 0, err
        assert out.endswith(f"lease {lease} expired or revoked.\n".encode())
        assert set(out.splitlines()[:-1]) <= {line.rstrip(b"\n")}
        assert err == b""
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def test_lease_expiry_releases_a_lock(server):
    """A lock holder killed with SIGKILL cannot unlock: its session's lease
    (--ttl 2) expires and the waiter gets the lock."""
    holder = subprocess.Popen([str(CTL), f"--endpoints={server.endpoint}", "lock", "--ttl", "2",
                               "exp-lock"], env=etcdctl_env(), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    waiter = None
    try:
        key = holder.stdout.readline()
        assert key.startswith(b"exp-lock/")
        waiter = subprocess.Popen([str(CTL), f"--endpoints={server.endpoint}", "lock",
                                   "exp-lock"], env=etcdctl_env(), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE)
        time.sleep(1.0)
        assert waiter.poll() is None  # still waiting behind the holder
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        t0 = time.monotonic()
        got = waiter.stdout.readline()
        assert got.startswith(b"exp-lock/") and got != key
        assert time.monotonic() - t0 < 6  # within the TTL (and a keep-alive's slack)
        lease = key.rstrip(b"\n").split(b"/")[1].decode()
        assert b"already expired" in ref(server, "lease", "timetolive", lease).stdout
        waiter.send_signal(signal.SIGINT)
        assert waiter.wait(timeout=10) == 0
        assert ref(server, "get", "--prefix", "exp-lock/").stdout == b""
    finally:
        for p in (holder, waiter):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait()

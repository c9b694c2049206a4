"""etcdctl make-mirror between two of our servers: the existing keys, then
the watched updates (puts and deletes), with --prefix/--dest-prefix/
--no-dest-prefix; argument errors as the reference etcdctl 3.4.23's."""

import os
import pathlib
import select
import subprocess
import time

import pytest

from conftest import BIN, REFERENCE_ETCDCTL, EtcdProcess, etcdctl_env

CTL = pathlib.Path(os.environ.get("E2E_CTL", BIN / "etcdctl"))


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    base = tmp_path_factory.mktemp("mirror")
    src = EtcdProcess(base, name="src").start()
    try:
        dst = EtcdProcess(base, name="dst").start()
    except BaseException:
        src.stop()
        raise
    yield src, dst
    dst.stop()
    src.stop()


def ref(server, *args):
    return subprocess.run([str(REFERENCE_ETCDCTL), f"--endpoints={server.endpoint}", *args],
                          env=etcdctl_env(), capture_output=True, timeout=20)


def keys(server, prefix):
    out = ref(server, "get", "--prefix", prefix).stdout.decode().splitlines()
    return dict(zip(out[0::2], out[1::2]))


def wait_equal(fn, want, timeout=15.0):
    deadline = time.monotonic() + timeout
    got = None
    while time.monotonic() < deadline:
        got = fn()
        if got == want:
            return
        time.sleep(0.1)
    assert got == want


class Mirror:
    def __init__(self, src, dst, *args):
        self.p = subprocess.Popen([str(CTL), f"--endpoints={src.endpoint}", "make-mirror",
                                   *args, dst.endpoint], env=etcdctl_env(),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
        return self.p.communicate(timeout=10)


def test_mirror_copies_existing_keys_then_follows(pair):
    src, dst = pair
    # more than one batch of 1000, put 100 to a transaction
    for start in range(0, 1500, 100):
        ops = "".join(f"put m1/k{i:04d} v{i}\n" for i in range(start, start + 100))
        r = subprocess.run([str(REFERENCE_ETCDCTL), f"--endpoints={src.endpoint}", "txn"],
                           input=("\n" + ops + "\n\n").encode(), env=etcdctl_env(),
                           capture_output=True, timeout=20)
        assert r.returncode == 0, r.stderr
    assert ref(src, "put", "other/x", "1").returncode == 0
    started = time.monotonic()
    m = Mirror(src, dst, "--prefix", "m1/")
    try:
        want = {f"m1/k{i:04d}": f"v{i}" for i in range(1500)}
        wait_equal(lambda: keys(dst, "m1/"), want, timeout=30)
        # updates: a put, an overwrite, a delete, a multi-key txn
        assert ref(src, "put", "m1/new", "n").returncode == 0
        assert ref(src, "put", "m1/k0000", "changed").returncode == 0
        assert ref(src, "del", "m1/k0001").returncode == 0
        assert ref(src, "del", "--prefix", "m1/k01").returncode == 0
        want["m1/new"] = "n"
        want["m1/k0000"] = "changed"
        for k in [k for k in want if k == "m1/k0001" or k.startswith("m1/k01")]:
            del want[k]
        wait_equal(lambda: keys(dst, "m1/"), want)
        assert keys(dst, "other/") == {}  # outside the prefix
        assert m.p.poll() is None  # runs until killed
        # 30 s after its start it prints how many keys it put or deleted:
        # 1500 + 2 puts + 1 delete + 100 deletes of the prefix
        ready, _, _ = select.select([m.p.stdout], [], [], max(0.0, started + 35 - time.monotonic()))
        assert ready, "no progress line within 35 s"
        assert m.p.stdout.readline() == b"1603\n"
        assert time.monotonic() - started >= 29
    finally:
        out, err = m.kill()
    assert err == b""
    assert out == b""


def test_mirror_dest_prefix_and_no_dest_prefix(pair):
    src, dst = pair
    assert ref(src, "put", "m2/a", "1").returncode == 0
    m = Mirror(src, dst, "--prefix", "m2/", "--dest-prefix", "copy/")
    try:
        wait_equal(lambda: keys(dst, "copy/"), {"copy/a": "1"})
        assert ref(src, "put", "m2/b", "2").returncode == 0
        wait_equal(lambda: keys(dst, "copy/"), {"copy/a": "1", "copy/b": "2"})
    finally:
        m.kill()
    m = Mirror(src, dst, "--prefix", "m2/", "--no-dest-prefix")
    try:
        wait_equal(lambda: {k: v for k, v in keys(dst, "").items() if k in ("a", "b")},
                   {"a": "1", "b": "2"})
    finally:
        m.kill()


@pytest.mark.parametrize("args", [
    [],
    ["a", "b"],
    ["--prefix", "p", "--dest-prefix", "d", "--no-dest-prefix", "DST"],
])
def test_mirror_argument_errors_as_etcdctl(pair, args):
    src, dst = pair
    args = [dst.endpoint if a == "DST" else a for a in args]
    a = subprocess.run([str(CTL), f"--endpoints={src.endpoint}", "make-mirror", *args],
                       env=etcdctl_env(), capture_output=True, timeout=20)
    b = subprocess.run([str(REFERENCE_ETCDCTL), f"--endpoints={src.endpoint}", "make-mirror",
                        *args], env=etcdctl_env(), capture_output=True, timeout=20)
    assert (a.returncode, a.stdout, a.stderr) == (b.returncode, b.stdout, b.stderr)
    assert a.returncode == 128

"""etcdctl watch: our etcdctl against the reference etcdctl 3.4.23, both
watching one of our servers.

Watches that replay history (--rev) see the same responses from the server,
so both etcdctls must print the same bytes; each runs until its output has
settled and is then stopped. Errors and the ends of watches (a compacted
revision, a failing exec command, end of input in -i mode) compare with
stderr and the exit code. etcd 3.5's --progress-notify is checked on its
own (3.4 has no such flag)."""

import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import time

import pytest

from conftest import ROOT, EtcdProcess, etcdctl_env

OURS = pathlib.Path(os.environ.get("E2E_CTL", ROOT / "build" / "bin" / "etcdctl"))
REF = pathlib.Path("/usr/bin/etcdctl")
SETTLE_S = 0.8  # a replaying watch has printed everything by then


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("etcdctl_watch")
    p = EtcdProcess(base, name="watch",
                    extra_args=("--experimental-watch-progress-notify-interval=500ms",)).start()
    yield p
    p.stop()
    shutil.rmtree(base, ignore_errors=True)


def env_with(extra=None):
    e = etcdctl_env()
    e.update(extra or {})
    return e


def ctl(binary, server, *args, input=None, env=None, text=True, timeout=20):
    return subprocess.run([str(binary), f"--endpoints={server.endpoint}", *args], input=input,
                          env=env_with(env), capture_output=True, text=text, timeout=timeout)


def without_warnings(stderr):
    if isinstance(stderr, bytes):
        return stderr
    return "".join(l for l in stderr.splitlines(keepends=True) if not l.startswith('{"level":"warn"'))


def start(binary, server, *args, env=None):
    return subprocess.Popen([str(binary), f"--endpoints={server.endpoint}", *args],
                            env=env_with(env), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def finish(p, input=None, settle=SETTLE_S):
    """Feeds `input` (stdin stays open), waits `settle`, then closes stdin and
    waits a little for the process to end by itself; stops it otherwise.
    Returns (exit code or None when it had to be stopped, stdout, stderr)."""
    if input:
        p.stdin.write(input)
        p.stdin.flush()
    time.sleep(settle)
    try:
        p.stdin.close()
    except BrokenPipeError:
        pass
    try:
        p.wait(timeout=0.3)
        code = p.returncode
    except subprocess.TimeoutExpired:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=5)
        code = None
    out, err = p.stdout.read(), p.stderr.read()
    p.stdout.close()
    p.stderr.close()
    return code, out, without_warnings(err.decode())


def same(server, *args, env=None, input=None, settle=SETTLE_S):
    """Runs the watch with both etcdctls side by side (same input, same
    time); asserts the same exit code, stdout and stderr."""
    ps = [start(REF, server, *args, env=env), start(OURS, server, *args, env=env)]
    data = input.encode() if input is not None else None
    if data:
        for p in ps:
            p.stdin.write(data)
            p.stdin.flush()
    time.sleep(settle)
    results = [finish(p, None, 0) for p in ps]
    assert results[1] == results[0], f"etcdctl watch {' '.join(args)}"
    return results[1]


def put(server, key, value):
    r = ctl(OURS, server, "put", key, value)
    assert r.returncode == 0, r.stderr


def revision(server):
    return json.loads(ctl(OURS, server, "get", "x", "-w", "json").stdout)["header"]["revision"]


@pytest.fixture(scope="module")
def history(server):
    """Writes under w/ (puts, an update, a delete, odd bytes); returns the
    revision before them."""
    start_rev = revision(server) + 1
    for k, v in [("w/a", "1"), ("w/b", "two"), ("w/a", "3"), ("w/c\n", "x\ty"), ("w/\xe9", "\x01")]:
        put(server, k, v)
    assert ctl(OURS, server, "del", "w/b").returncode == 0
    put(server, "wz", "outside")
    return start_rev


@pytest.mark.parametrize("fmt", ["simple", "json", "fields", "protobuf"])
@pytest.mark.parametrize("args", [
    ["w/", "--prefix"],
    ["w/", "--prefix", "--prev-kv"],
    ["w/a"],
    ["w/a", "w/c"],
    ["", "--prefix"],
])
def test_watch_history(server, history, fmt, args):
    code, out, err = same(server, "-w", fmt, "watch", "--rev", str(history), *args)
    assert code is None and err == ""
    assert out


def test_watch_hex(server, history):
    same(server, "--hex", "watch", "--rev", str(history), "w/", "--prefix", "--prev-kv")
    same(server, "--hex", "-w", "fields", "watch", "--rev", str(history), "w/", "--prefix")


def test_watch_table_refused_at_first_response(server, history):
    code, out, err = same(server, "-w", "table", "watch", "--rev", str(history), "w/a")
    assert (code, out, err) == (4, b"", "Error: table not supported as output format\n")


def test_watch_live_events(server):
    p = start(OURS, server, "watch", "live/", "--prefix", "--prev-kv")
    time.sleep(0.7)
    put(server, "live/a", "1")
    put(server, "live/a", "2")
    assert ctl(OURS, server, "del", "live/a").returncode == 0
    code, out, err = finish(p, settle=0.7)
    assert code is None and err == ""
    assert out.decode() == "PUT\nlive/a\n1\nPUT\nlive/a\n1\nlive/a\n2\nDELETE\nlive/a\n2\nlive/a\n\n"


def test_watch_exec(server, history):
    script = 'echo "rev=$ETCD_WATCH_REVISION type=$ETCD_WATCH_EVENT_TYPE key=$ETCD_WATCH_KEY value=$ETCD_WATCH_VALUE"'
    code, out, err = same(server, "watch", "--rev", str(history), "w/", "--prefix", "--",
                          "sh", "-c", script)
    assert b'type="DELETE" key="w/b" value=""' in out
    assert b'rev=' in out and b'type="PUT" key="w/a" value="3"' in out
    # The key and value may come from ETCDCTL_WATCH_KEY.
    same(server, "watch", "--rev", str(history), "--", "sh", "-c", script,
         env={"ETCDCTL_WATCH_KEY": "w/a"})


@pytest.mark.parametrize("cmd", [["sh", "-c", "exit 3"], ["no-such-command-here", "x"],
                                 ["sh", "-c", "kill -9 $$"]])
def test_watch_exec_failure(server, history, cmd):
    code, out, err = same(server, "watch", "--rev", str(history), "w/a", "--", *cmd)
    assert code == 1
    assert err.startswith("command [")


@pytest.mark.parametrize("args,env", [
    ([], {}),
    (["w/a", "--"], {}),
    (["w/a", "w/b", "--prefix"], {}),
    (["w/a"], {"ETCDCTL_WATCH_KEY": "w/a"}),
    ([], {"ETCDCTL_WATCH_RANGE_END": "w/z"}),
    (["w/a", "--", "echo"], {"ETCDCTL_WATCH_KEY": "w/a"}),
    (["--rev", "x", "w/a"], {}),
    (["--bogus"], {}),
    (["--rev", "1"], {}),
])
def test_watch_argument_errors(server, args, env):
    ps = [start(b, server, "watch", *args, env=env) for b in (REF, OURS)]
    time.sleep(0.5)
    (ca, oa, ea), (cb, ob, eb) = [finish(p, settle=0) for p in ps]
    assert (cb, eb) == (ca, ea) and cb in (1, 128)
    # Flag errors print watch's usage, which lists etcd 3.5's --progress-notify.
    extra = b"      --progress-notify[=false]\tget periodic watch progress notification from server\n"
    assert extra in ob or b"NAME:" not in ob

    def squeeze(b):
        return re.sub(rb"\t+", b"\t", b)
    assert squeeze(ob.replace(extra, b"")) == squeeze(oa)


def test_watch_env_key_and_range(server, history):
    code, out, err = same(server, "watch", "--rev", str(history),
                          env={"ETCDCTL_WATCH_KEY": "w/a", "ETCDCTL_WATCH_RANGE_END": "w/c"})
    assert out.count(b"PUT\n") == 3


def test_watch_interactive(server, history):
    lines = (f"watch --rev={history} --prev-kv w/ --prefix\n"
             "\n"
             "watch\n"
             "bogus w/a\n"
             f"watch --rev {history} w/a w/b --prefix\n")
    code, out, err = same(server, "watch", "-i", input=lines)
    assert code == 3
    assert err == ("Invalid command:  (watch and progress supported)\n"
                   "Invalid command watch (command type or key is not provided)\n"
                   "Invalid command bogus w/a (only support watch)\n"
                   f"Invalid command watch --rev {history} w/a w/b --prefix "
                   "(`range_end` and `--prefix` are mutually exclusive)\n"
                   "Error: Error reading watch request line: EOF\n")


def test_watch_interactive_concurrent(server, history):
    """Several watches print side by side (their order between them is the
    threads'): the same lines come out."""
    lines = f"watch --rev {history} w/a\nwatch --rev {history} w/ --prefix\n"
    ps = [start(b, server, "watch", "-i") for b in (REF, OURS)]
    for p in ps:
        p.stdin.write(lines.encode())
        p.stdin.flush()
    time.sleep(SETTLE_S)
    (ca, oa, ea), (cb, ob, eb) = [finish(p, settle=0) for p in ps]
    assert (cb, eb) == (ca, ea) == (3, "Error: Error reading watch request line: EOF\n")
    assert sorted(ob.split(b"\n")) == sorted(oa.split(b"\n"))


def test_watch_interactive_exec_and_errors(server, history):
    code, out, err = same(server, "watch", "-i",
                          input=f'watch --rev {history} w/a -- sh -c "echo $ETCD_WATCH_KEY"\n')
    assert out.count(b'"w/a"\n') == 2
    # etcdctl's argify cuts a 'single-quoted' word by the word count: 8 words
    # leave "echo $" here.
    code, out, err = same(server, "watch", "-i",
                          input=f"watch --rev {history} w/a -- sh -c 'echo $ETCD_WATCH_KEY'\n")
    assert out.endswith(b"$\n$\n")
    code, out, err = same(server, "watch", "-i", input="watch --bogus w/a\n")
    assert (code, err) == (128, "Error: unknown flag: --bogus\n")
    code, out, err = same(server, "watch", "-i", input="watch w/a --\n")
    assert code == 128


@pytest.mark.parametrize("fmt", ["simple", "json"])
def test_watch_interactive_progress(server, fmt):
    put(server, "prog/k", "1")
    ps = [start(b, server, "-w", fmt, "watch", "-i") for b in (REF, OURS)]
    for p in ps:
        p.stdin.write(b"watch prog/k\n")
        p.stdin.flush()
    time.sleep(0.7)
    for p in ps:
        p.stdin.write(b"progress\n")
        p.stdin.flush()
    time.sleep(0.7)
    results = [finish(p, settle=0) for p in ps]
    assert results[1] == results[0]
    rev = revision(server)
    assert results[1][1].decode().startswith(f"progress notify: {rev}\n")


def test_watch_progress_notify_flag(server):
    """etcd 3.5's --progress-notify: the server's periodic notifications
    (every 500ms here) are printed."""
    rev = revision(server)
    p = start(OURS, server, "watch", "--progress-notify", "idle/key")
    code, out, err = finish(p, settle=2.0)
    assert code is None and err == ""
    lines = out.decode().splitlines()
    assert lines and all(l == f"progress notify: {rev}" for l in lines), out


def test_watch_help(server):
    r = ctl(OURS, server, "watch", "--help")
    assert ("      --progress-notify[=false]\tget periodic watch progress notification from server\n"
            in r.stdout)


@pytest.mark.parametrize("fmt", ["simple", "json", "fields", "protobuf"])
def test_watch_compacted_revision(server, fmt):
    """Last in the module: it compacts away the history the others replay."""
    put(server, "cw/k", "1")
    put(server, "cw/k", "2")
    rev = revision(server)
    assert ctl(OURS, server, "compaction", str(rev)).returncode == 0
    code, out, err = same(server, "-w", fmt, "watch", "cw/k", "--rev", str(rev - 1))
    assert code == 5
    assert err == ("watch was canceled (etcdserver: mvcc: required revision has been compacted)\n"
                   "Error: watch is canceled by the server\n")


def test_watch_resumes_on_another_member(tmp_path):
    """Our etcdctl watches through the first of three members; that member
    dies between writes; the watch goes on through another with every event
    once, in order."""
    from cluster import OURS as OURS_ETCD, Cluster

    c = Cluster(tmp_path, [OURS_ETCD] * 3)
    try:
        c.start()
        endpoints = c.endpoints([0, 1, 2])
        p = subprocess.Popen([str(OURS), f"--endpoints={endpoints}", "watch", "r/", "--prefix"],
                             env=env_with(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)

        def put_via_2(k, v):
            deadline = time.monotonic() + 15
            while True:
                r = c.etcdctl("put", k, v, member=2)
                if r.returncode == 0:
                    return
                assert time.monotonic() < deadline, r.stderr
                time.sleep(0.2)

        time.sleep(0.7)
        for i in range(3):
            put_via_2(f"r/{i}", f"v{i}")
        c.kill(0)
        for i in range(3, 6):
            put_via_2(f"r/{i}", f"v{i}")
        deadline = time.monotonic() + 10
        want = "".join(f"PUT\nr/{i}\nv{i}\n" for i in range(6))
        got = b""
        os.set_blocking(p.stdout.fileno(), False)
        while time.monotonic() < deadline and len(got) < len(want):
            got += p.stdout.read() or b""
            time.sleep(0.1)
        p.terminate()
        p.wait(timeout=5)
        got += p.stdout.read() or b""
        p.stdout.close()
        p.stderr.close()
        assert got.decode() == want
    finally:
        c.close()

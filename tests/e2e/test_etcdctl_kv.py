"""etcdctl get, put, del, txn and compaction: our etcdctl against the
reference etcdctl 3.4.23, both talking to one of our servers.

Reads compare byte for byte (stdout, stderr, exit code) in every output
format. Writes run once with each etcdctl from the same starting state; their
outputs compare with the revisions zeroed (the second write lands at a later
revision by construction). Where etcd 3.5's etcdctl differs from 3.4's
(--count-only), the expected output is written out."""

import json
import os
import pathlib
import re
import shutil
import subprocess

import pytest

import etcdpb
from conftest import ROOT, EtcdProcess, etcdctl_env

OURS = pathlib.Path(os.environ.get("E2E_CTL", ROOT / "build" / "bin" / "etcdctl"))
REF = pathlib.Path("/usr/bin/etcdctl")
FORMATS = ["simple", "json", "fields", "protobuf", "table"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("etcdctl_kv")
    p = EtcdProcess(base, name="kv").start()
    yield p
    p.stop()
    shutil.rmtree(base, ignore_errors=True)


def ctl(binary, server, *args, input=None, env=None, text=True, timeout=20):
    e = etcdctl_env()
    e.update(env or {})
    # Outputs may hold any bytes: text mode keeps the undecodable ones.
    return subprocess.run([str(binary), f"--endpoints={server.endpoint}", *args], input=input,
                          env=e, capture_output=True, text=text, timeout=timeout,
                          errors="surrogateescape" if text else None)


def ours(server, *args, **kw):
    return ctl(OURS, server, *args, **kw)


def ref(server, *args, **kw):
    return ctl(REF, server, *args, **kw)


def without_warnings(stderr):
    """Both clients log a JSON warning for each failed request, with a time
    and a random client id that differ between runs (the diff suite compares
    them normalised)."""
    if isinstance(stderr, bytes):
        return stderr
    return "".join(l for l in stderr.splitlines(keepends=True) if not l.startswith('{"level":"warn"'))


def outcome(r):
    return (r.returncode, r.stdout, without_warnings(r.stderr))


def same(server, *args, input=None, text=True):
    """Runs a read-only command with both etcdctls; asserts identical results."""
    a = ref(server, *args, input=input, text=text)
    b = ours(server, *args, input=input, text=text)
    assert outcome(b) == outcome(a), f"etcdctl {' '.join(args)}"
    return b


REV_FIELDS = {"revision", "create_revision", "mod_revision", "CompactRevision"}


def zero_json(v):
    if isinstance(v, dict):
        return {k: (0 if k in REV_FIELDS else zero_json(x)) for k, x in v.items()}
    if isinstance(v, list):
        return [zero_json(x) for x in v]
    return v


def zero_pb(msg):
    for field, value in msg.ListFields():
        if field.name in REV_FIELDS:
            msg.ClearField(field.name)
        elif field.type == field.TYPE_MESSAGE:
            if field.label == field.LABEL_REPEATED:
                for m in value:
                    zero_pb(m)
            else:
                zero_pb(value)
    return msg


def normalized(fmt, out, pb_type=None):
    if fmt == "json":
        return [zero_json(json.loads(line)) for line in out.splitlines()]
    if fmt == "fields":
        return re.sub(r'^("(Prev)?(Revision|CreateRevision|ModRevision)" : )\d+$', r"\1N", out,
                      flags=re.M)
    if fmt == "protobuf":
        return zero_pb(getattr(etcdpb.rpc(), pb_type).FromString(out))
    return out


def same_write(server, setup, args, fmt, pb_type, input=None):
    """Runs `setup` then the write with the reference etcdctl, and again with
    ours; the outputs match once revisions are zeroed."""
    results = []
    for binary in (REF, OURS):
        setup()
        binary_out = fmt == "protobuf"
        data = input.encode() if binary_out and input is not None else input
        r = ctl(binary, server, "-w", fmt, *args, input=data, text=not binary_out)
        results.append((r.returncode, normalized(fmt, r.stdout, pb_type) if r.returncode == 0
                        else r.stdout, without_warnings(r.stderr)))
    assert results[1] == results[0], f"etcdctl -w {fmt} {' '.join(args)}"
    return results[1]


def put(server, key, value):
    r = ours(server, "put", key, value)
    assert r.returncode == 0, r.stderr


def delete_prefix(server, prefix):
    assert ours(server, "del", "--prefix", prefix).returncode == 0


@pytest.fixture(scope="module")
def data(server):
    """Keys under g/ with several versions and values (binary ones too)."""
    for k, v in [("g/a", "1"), ("g/b", "22"), ("g/c", "333"), ("g/b", "x y"),
                 ("g/d\n", "new\nline"), ("g/\xe9", "\t\x01"), ("gz", "out"), ("g/a", "10")]:
        put(server, k, v)
    # Bytes a command line cannot carry (NUL, invalid UTF-8, U+2028, HTML
    # characters), through a txn line's Go escapes.
    r = ours(server, "txn", input='\nput "g/\\xff\\x00k" "v\\xfe\\u2028<&>"\n\n\n')
    assert r.stdout == "SUCCESS\n\nOK\n", r.stderr
    return server


# ---- get ----

GET_CASES = [
    ["g/a"],
    ["g/missing"],
    ["g/", "--prefix"],
    ["g/b", "--from-key"],
    ["g/a", "g/c"],
    ["g/a", ""],
    ["", "--prefix"],
    ["", "--from-key"],
    ["g/", "--prefix", "--limit", "2"],
    ["g/", "--prefix", "--sort-by", "VALUE"],
    ["g/", "--prefix", "--sort-by", "modify", "--order", "descend"],
    ["g/", "--prefix", "--sort-by", "CREATE", "--order", "ASCEND"],
    ["g/", "--prefix", "--sort-by", "version", "--order", "DESCEND", "--limit", "3"],
    ["g/", "--prefix", "--order", "DESCEND"],
    ["g/", "--prefix", "--sort-by", "KEY", "--order", "ASCEND"],
    ["g/", "--prefix", "--keys-only"],
    ["g/", "--prefix", "--consistency", "s"],
    ["g/a", "--rev", "2"],
    ["g/a", "g/c", "ignored-third"],
]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("args", GET_CASES, ids=lambda a: " ".join(a) or "empty")
def test_get_formats(data, fmt, args):
    same(data, "get", "-w", fmt, *args, text=fmt != "protobuf")


@pytest.mark.parametrize("args", [["g/", "--prefix"], ["g/\xe9"], ["g/", "--prefix", "--keys-only"]])
def test_get_hex(data, args):
    for fmt in ("simple", "fields", "json"):
        same(data, "get", "--hex", "-w", fmt, *args)


@pytest.mark.parametrize("args", [
    ["g/", "--prefix", "--print-value-only"],
    ["g/a", "--print-value-only", "--hex"],
    ["g/a", "--print-value-only", "-w", "json"],
    ["g/a", "--print-value-only", "-w", "table"],
])
def test_get_print_value_only(data, args):
    same(data, "get", *args)


@pytest.mark.parametrize("args", [
    [],
    ["g/", "--prefix", "--from-key"],
    ["g/", "--consistency", "x"],
    ["g/", "--order", "up"],
    ["g/", "--sort-by", "size"],
    ["g/", "g/z", "--prefix"],
    ["g/", "g/z", "--from-key"],
    ["g/", "--limit", "x"],
    ["g/", "--bogus"],
    ["g/", "-w", "yaml"],
])
def test_get_errors(data, args):
    a = ref(data, "get", *args)
    b = ours(data, "get", *args)
    # Flag errors print get's usage, which lists etcd 3.5's --count-only.
    count_only = "      --count-only[=false]\t\tGet only the count\n"
    assert count_only in b.stdout or "NAME:" not in b.stdout
    assert (b.returncode, b.stdout.replace(count_only, ""), b.stderr) == outcome(a)


def test_get_count_only_is_etcd_35(data):
    """etcd 3.5's --count-only: the count in the fields format only."""
    full = ours(data, "get", "g/", "--prefix", "-w", "fields")
    r = ours(data, "get", "g/", "--prefix", "--count-only", "-w", "fields")
    assert r.returncode == 0, r.stderr
    header = full.stdout.splitlines()[:4]
    count = [l for l in full.stdout.splitlines() if l.startswith('"Count"')]
    assert r.stdout.splitlines() == header + ['"More" : false'] + count
    for fmt in ("simple", "json", "protobuf", "table"):
        r = ours(data, "get", "g/", "--prefix", "--count-only", "-w", fmt)
        assert (r.returncode, r.stdout, r.stderr) == (
            128, "", "Error: --count-only is only for `--write-out=fields`\n")
    r = ours(data, "get", "g/", "--keys-only", "--count-only")
    assert (r.returncode, r.stderr) == (
        128, "Error: `--keys-only` and `--count-only` cannot be set at the same time, choose one\n")


def test_get_help_lists_count_only(server):
    r = ours(server, "get", "--help")
    assert "      --count-only[=false]\t\tGet only the count\n" in r.stdout


# ---- put ----

@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("args", [["p/k", "v2"], ["p/k", "v2", "--prev-kv"], ["p/new", "v"],
                                  ["p/new", "v", "--prev-kv"]])
def test_put_formats(server, fmt, args):
    def setup():
        delete_prefix(server, "p/")
        put(server, "p/k", "v1")
    same_write(server, setup, ["put", *args], fmt, "PutResponse")


def test_put_table_still_writes(server):
    delete_prefix(server, "p/")
    r = ours(server, "-w", "table", "put", "p/t", "v")
    assert (r.returncode, r.stdout, r.stderr) == (4, "", "Error: table not supported as output format\n")
    assert ours(server, "get", "p/t", "--print-value-only").stdout == "v\n"


def test_put_hex_prev_kv(server):
    def setup():
        delete_prefix(server, "p/")
        put(server, "p/k", "v\x01")
    same_write(server, setup, ["--hex", "put", "p/k", "v2", "--prev-kv"], "simple", None)


@pytest.mark.parametrize("args,input", [
    (["p/k"], "from stdin\nwith lines\n"),
    (["p/k"], ""),
    ([], None),
    (["p/k", "v", "--ignore-value"], None),
    (["p/k", "--lease", "zz"], None),
    (["p/k", "v", "--lease", "ffffffffffffffffff"], None),
    (["p/k", "v", "--lease", "1234"], None),
    (["p/k", "--ignore-value"], None),
    (["p/k", "--ignore-lease", "v2"], None),
    (["--", "p/k", "-dash"], None),
    (["p/k", "--", "-dash"], None),
    (["p/k", "v", "extra"], None),
])
def test_put_forms(server, args, input):
    def setup():
        delete_prefix(server, "p/")
        put(server, "p/k", "v1")
    same_write(server, setup, ["put", *args], "simple", None, input=input)
    if args and args[0] != "p/k" or not args:
        return
    # The value each left behind.
    results = []
    for binary in (REF, OURS):
        setup()
        ctl(binary, server, "put", *args, input=input)
        results.append(ours(server, "get", "p/", "--prefix").stdout)
    assert results[1] == results[0]


def test_put_lease(server):
    r = ref(server, "lease", "grant", "100")
    lease = r.stdout.split()[1]
    delete_prefix(server, "p/")
    assert ours(server, "put", "p/l", "v", "--lease", lease).stdout == "OK\n"
    got = json.loads(ours(server, "get", "p/l", "-w", "json").stdout)
    assert got["kvs"][0]["lease"] == int(lease, 16)
    # --ignore-lease keeps it; a plain put drops it.
    assert ours(server, "put", "p/l", "v2", "--ignore-lease").returncode == 0
    assert json.loads(ours(server, "get", "p/l", "-w", "json").stdout)["kvs"][0]["lease"] == int(lease, 16)
    r = ours(server, "put", "p/l", "--ignore-value", "--lease", lease)
    assert r.returncode == 0
    assert ours(server, "get", "p/l", "--print-value-only").stdout == "v2\n"
    ref(server, "lease", "revoke", lease)
    assert ours(server, "get", "p/l").stdout == ""
    same_write(server, lambda: None, ["put", "p/x", "v", "--lease", lease], "simple", None)


def test_put_help_matches(server):
    same(server, "put", "--help")


# ---- del ----
# Keys under zz/: --from-key deletes everything after its key.

@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("args", [
    ["zz/a"],
    ["zz/missing"],
    ["zz/", "--prefix"],
    ["zz/", "--prefix", "--prev-kv"],
    ["zz/b", "--from-key", "--prev-kv"],
    ["zz/a", "zz/c", "--prev-kv"],
])
def test_del_formats(server, fmt, args):
    def setup():
        delete_prefix(server, "zz/")
        for k in ("zz/a", "zz/b", "zz/c", "zz/d"):
            put(server, k, "val-" + k)
    same_write(server, setup, ["del", *args], fmt, "DeleteRangeResponse")


@pytest.mark.parametrize("args", [[], ["a", "b", "c"], ["a", "--prefix", "--from-key"],
                                  ["a", "b", "--prefix"], ["a", "b", "--from-key"]])
def test_del_errors(server, args):
    same(server, "del", *args)


def test_del_hex(server):
    def setup():
        delete_prefix(server, "zz/")
        put(server, "zz/\xff", "\x01v")
    same_write(server, setup, ["--hex", "del", "zz/", "--prefix", "--prev-kv"], "simple", None)


def test_del_help_matches(server):
    same(server, "del", "--help")


# ---- txn ----

TXN_SETUP = [("t/a", "1"), ("t/b", "two")]


def txn_setup(server):
    def setup():
        delete_prefix(server, "t/")
        for k, v in TXN_SETUP:
            put(server, k, v)
    return setup


TXNS = [
    'value("t/a") = "1"\n\nput t/a 2\nget t/ --prefix\ndel t/b --prev-kv\n\nput t/c 3\n\n',
    'value("t/a") = "0"\n\nput t/a 2\n\nget t/a\nput t/c "with space" --prev-kv\nget t/ --prefix --keys-only\n\n',
    'version("t/a") > "0"\nmod("t/b") < "1000000"\ncreate("t/a") != "0"\n\nget t/b\n\n\n',
    'ver("t/none") = "0"\nc("t/none") = "0"\nm("t/none") = "0"\nval("t/a") != "x"\n\n'
    'put t/none v\n\n\n',
    '\n\n\n',
    'value("t/a") = "1"\n\n\n\n',
    '   \n  put t/x y  \n\ndel t/a\n\n',
    'value("t/b") = "two"\n\nput t/a new --prev-kv\nget t/a --consistency s --rev 1\n\n\n',
]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("txn", TXNS, ids=range(len(TXNS)))
def test_txn_formats(server, fmt, txn):
    same_write(server, txn_setup(server), ["txn"], fmt, "TxnResponse", input=txn)


@pytest.mark.parametrize("txn", TXNS[:3], ids=range(3))
def test_txn_interactive(server, txn):
    same_write(server, txn_setup(server), ["txn", "-i"], "simple", None, input=txn)


@pytest.mark.parametrize("txn", [
    'value("t/a") = "1"\n\nput t/a 2\n',  # no blank line after the ops
    'value("t/a") = "1"\n',
    '',
    'value("t/a") = "1"\n\nput t/a 2\n\nget t/a',  # no newline at the end
    'value("t/a") =\n\n\n\n',
    'valu("t/a") = "1"\n\n\n\n',
    'value("t/a")= "1"\n\n\n\n',
    'value(t/a) = "1"\n\n\n\n',
    'version("t/a") = "x"\n\n\n\n',
    'nothing\n\n\n\n',
    '\nput\n\n\n',
    '\nput t/a\n\n\n',
    '\nfoo t/a b\n\n\n',
    '\nput t/a b --bogus\n\n\n',
    '\nput t/a b --lease zz\n\n\n',
    '\nget t/a --prefix --from-key\n\n\n',
    '\nget t/a --order x\n\n\n',
    '\ndel t/a b c\n\n\n',
    '\nput t/a "bad \\q escape"\n\n\n',
    "\nput t/a 'quoted'\n\n\n",
    "\np t/a x\ng t/a\nd t/none\n\n\n",
])
def test_txn_errors_and_quirks(server, txn):
    same_write(server, txn_setup(server), ["txn"], "simple", None, input=txn)


def test_txn_rejects_arguments(server):
    same(server, "txn", "extra")


def test_txn_bad_operator_panics(server):
    r = ours(server, "txn", input='value("t/a") == "1"\n\n\n\n')
    assert r.returncode == 2
    assert r.stderr.startswith("panic: Unknown result op\n\ngoroutine 1 [running]:\n")
    r = ours(server, "txn", input="\nput a b c 'x'\n\n\n")
    assert r.returncode == 2
    assert r.stderr.startswith(
        "panic: runtime error: slice bounds out of range [:4] with length 3\n")


def test_txn_lease_compare(server):
    """etcd 3.5's etcdctl panics on a lease compare ("bad value", exit 2)
    before it sends anything, as the reference does; a bad operator panics
    first."""
    lease = ref(server, "lease", "grant", "100").stdout.split()[1]
    delete_prefix(server, "t/")
    assert ours(server, "put", "t/l", "v", "--lease", lease).returncode == 0
    for line in (f'lease("t/l") = "{lease}"', 'lease("t/l") = "xyz"', 'lease("t/l") ~ "1"'):
        text = line + "\n\nput t/ok yes\n\n\n"
        r, want = ours(server, "txn", input=text), ref(server, "txn", input=text)
        assert (r.returncode, r.stdout) == (want.returncode, want.stdout) == (2, "")
        assert r.stderr.splitlines()[0] == want.stderr.splitlines()[0]
    assert ref(server, "get", "t/ok").stdout == ""
    ref(server, "lease", "revoke", lease)


def test_txn_put_value_from_rest_of_stdin(server):
    """`put k` without a value in a txn reads what the line reader left of
    stdin: nothing for a short input."""
    same_write(server, txn_setup(server), ["txn"], "simple", None, input="\nput t/a\n\n\n")


def test_txn_help_matches(server):
    same(server, "txn", "--help")


# ---- compaction ----

def test_compaction(server):
    put(server, "c/k", "1")
    put(server, "c/k", "2")
    rev = json.loads(ours(server, "get", "c/k", "-w", "json").stdout)["header"]["revision"]
    r = ours(server, "compaction", str(rev - 1))
    assert (r.returncode, r.stdout, r.stderr) == (0, f"compacted revision {rev - 1}\n", "")
    r = ours(server, "compaction", "--physical", str(rev))
    assert (r.returncode, r.stdout, r.stderr) == (0, f"compacted revision {rev}\n", "")
    for args in ([str(rev - 1)], [str(rev + 1000)], [], ["1", "2"], ["x"], ["99999999999999999999"],
                 ["-w", "json", str(rev)]):
        same(server, "compaction", *args)
    # Watching from before the compaction is refused (the watch suite checks
    # the output).
    same(server, "get", "c/k", "--rev", str(rev - 1))


def test_compaction_help_matches(server):
    same(server, "compaction", "--help")


def test_unreachable_endpoint():
    """Like etcdctl, ours connects on the request: it fails when the command
    timeout passes (exit 1). The reference also logs a retry warning."""
    env = etcdctl_env()
    for binary in (OURS, REF):
        r = subprocess.run([str(binary), "--endpoints=127.0.0.1:1", "--dial-timeout=300ms",
                            "--command-timeout=1s", "get", "k"], env=env, capture_output=True,
                           text=True, timeout=20)
        assert (r.returncode, r.stdout) == (1, "")
        assert r.stderr.splitlines()[-1] == "Error: context deadline exceeded"

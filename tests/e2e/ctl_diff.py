"""Differential harness for etcdctl: the same scenario run by two etcdctl
binaries, each against its own fresh server, outputs compared byte for byte.

    reference  E2E_REF_CTL  (default /usr/bin/etcdctl, etcdctl 3.4.23)
    candidate  E2E_CTL      (default build/bin/etcdctl of this repo, or ETCD_BIN_DIR/etcdctl)

Both servers are OUR etcd (build/bin/etcd, or ETCD_BIN_DIR/etcd), started
identically (same --name, same --initial-cluster-token, same flags), so any
difference comes from the two etcdctls. A scenario is an ordered list of
Steps (etcdctl arguments, optional stdin and environment, optionally run for
a bounded time and then stopped with SIGTERM, optionally with other steps run
while it runs). Scenarios of one group share one server pair; a group's
scenarios run in order on both sides, so revisions agree.

Normalised, and only these (everything else must match byte for byte):
  ports        the two servers' client and peer ports -> <client-port>, <peer-port>
  ids          member and cluster ids (they hash the peer URLs) and ids the
               server picks at random (lease ids, ids of added members), as
               captured by the scenario: each -> <id-N> in order of first
               appearance (member, cluster, then as the steps print them), in hex (%x, %016x, and %16x with its space padding)
               and decimal forms, also inside JSON and -w protobuf output
               (which is decoded to a field dump first)
  durations    `took = 1.2ms`, "took":"1.2ms", the TOOK cell: <duration>
  db in use    endpoint status's "dbSizeInUse" (the server's pages in use
               depend on when its backend commits): <n>
  etcdctl logs the "ts" of its own zap log lines (and the time of capnslog ones), the client-<uuid> in targets,
               and a run of "retrying of unary invoker failed" lines that differ
               only in "attempt" (how often the client retries before its
               deadline is timing) counts as one line with "attempt":<n>
  tables       compared cell by cell (cell widths follow the ids and
               durations); each table is checked to be well formed on its own
  order        a step may declare its members unordered (etcd lists members by
               id, and ids differ): member lines, rows, items compared sorted
  tolerances   a step may name numbers that depend on the clock (a lease's
               remaining TTL) which may differ by <= 2 between the runs
  etcd 3.5     the golden is etcd 3.4.23's etcdctl; where 3.5 changed an
               output (its version, new flags in help, deprecations), V35_ALL
               and a step's `v35` rewrite the reference's transcript into
               3.5's, each pattern naming the change (not in the self-check)
A failing comparison shows a unified diff of the normalised transcripts.

Run (build/bin/etcd must exist; ETCD_BIN_DIR points elsewhere):
    /usr/bin/python3 -m pytest tests/e2e/test_etcdctl_diff.py
E2E_CTL_DIFF_DUMP=<dir> writes each scenario's normalised transcripts there.
Self-check, reference against reference (must pass; validates the harness
and that the normalisation is neither too strict nor too loose):
    E2E_CTL=/usr/bin/etcdctl /usr/bin/python3 -m pytest tests/e2e/test_etcdctl_diff.py
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
import pathlib
import re
import signal
import subprocess
import time

from conftest import BIN, EtcdProcess, clean_env, free_ports

REF_CTL = pathlib.Path(os.environ.get("E2E_REF_CTL", "/usr/bin/etcdctl"))
CAND_CTL = pathlib.Path(os.environ.get("E2E_CTL", BIN / "etcdctl"))

STEP_TIMEOUT_S = 30.0  # hard bound on one etcdctl process that should exit by itself
TERM_GRACE_S = 5.0  # after SIGTERM, SIGKILL
TOKEN = "ctl-diff-token"


@dataclasses.dataclass
class Step:
    """One etcdctl invocation. In args, stdin and env values `{ep}` is the
    server's client endpoint, `{dead}` an endpoint nothing listens on, and
    `{name}` a value captured by an earlier step."""
    args: tuple
    stdin: str | bytes | None = None
    env: dict | None = None
    endpoints: bool = True  # prepend --endpoints={ep}
    run_for: float | None = None  # long-running: SIGTERM after this many seconds
    during: tuple = ()  # Steps run (same etcdctl) while this one runs
    settle: float = 1.5  # seconds before `during` steps start (the watch is set up by then)
    hold_stdin: bool = False  # bounded run: keep stdin open (no EOF) until stopped
    capture: dict | None = None  # name -> regex (group 1) on stdout: a hex id
    capture_dec: dict | None = None  # name -> regex (group 1) on stdout: a decimal id
    ids: tuple = ()  # regexes on stdout whose group 1 is a hex id to normalise
    compare: tuple = ("rc", "stdout", "stderr")  # or "error": the last Error: line only
    tolerate: tuple = ()  # regexes (group 1 a number) allowed to differ by <= 2
    unordered: bool = False  # members come sorted by id, and ids differ: compare as sets
    timeout: float = STEP_TIMEOUT_S
    # (regex, replacement) pairs that turn the reference's (3.4) normalised
    # transcript of this step into etcd 3.5's: each documents a change 3.5
    # made. Not applied in the self-check (reference against reference).
    v35: tuple = ()

    def shown(self, subst) -> str:
        a = [subst(x) for x in self.args]
        s = " ".join(repr(x) if (not x or re.search(r"\s|'|\"", x)) else x for x in a)
        if self.env:
            s = " ".join(f"{k}={subst(v)}" for k, v in self.env.items()) + " " + s
        if self.stdin is not None:
            text = self.stdin if isinstance(self.stdin, str) else self.stdin.decode(errors="replace")
            s += f"  <<< {text[:70]!r}{'...' if len(text) > 70 else ''}"
        if self.run_for:
            s += f"  [stopped after {self.run_for}s]"
        return s


@dataclasses.dataclass
class Scenario:
    name: str
    steps: list


@dataclasses.dataclass
class Group:
    """Scenarios sharing a server pair; `server_args` go to both servers.

    With `reference_server`, the group compares the SERVERS instead: the
    reference side runs the reference etcd 3.4.23 (/usr/bin/etcd), the
    candidate side our etcd, and both sides run the reference etcdctl
    (REF_CTL), so any difference comes from the servers. Steps' `v35`
    patterns then describe what etcd 3.5's server answers differently."""
    name: str
    scenarios: list
    server_args: tuple = ()
    reference_server: bool = False


# ---------------------------------------------------------------------------
# Servers
# ---------------------------------------------------------------------------

class Side:
    """One side of the comparison: an etcdctl binary, a server, a work dir
    (the etcdctl's cwd) and what the side's steps captured."""

    def __init__(self, label: str, ctl: pathlib.Path, base: pathlib.Path,
                 server_args: tuple = (), dead_port: int = 0, reference_server: bool = False):
        self.label = label
        self.ctl = ctl
        self.base = pathlib.Path(base)
        self.work = self.base / "cwd"
        self.work.mkdir(parents=True, exist_ok=True)
        self.server = EtcdProcess(self.base, name="infra1", reference=reference_server,
                                  extra_args=("--initial-cluster-token", TOKEN, *server_args))
        self.dead = f"127.0.0.1:{dead_port}"
        self.vars: dict[str, str] = {}
        self.ids: list[int] = []

    def start(self) -> "Side":
        self.server.start()
        st = self.server.json("endpoint", "status")[0]["Status"]["header"]
        self.ids = [st["member_id"], st["cluster_id"]]
        return self

    def stop(self) -> None:
        try:
            self.server.stop()
        except Exception:  # noqa: BLE001
            self.server.kill()

    def subst(self, s: str) -> str:
        s = s.replace("{ep}", self.server.endpoint).replace("{dead}", self.dead)
        for k, v in self.vars.items():
            s = s.replace("{" + k + "}", v)
        return s

    def add_id(self, text: str, base: int = 16) -> None:
        try:
            v = int(text, base)
        except ValueError:
            return
        if v and v not in self.ids:
            self.ids.append(v)


# ---------------------------------------------------------------------------
# Running steps
# ---------------------------------------------------------------------------

@dataclasses.dataclass
class Result:
    rc: int | None
    stdout: bytes
    stderr: bytes


def _argv(side: Side, step: Step) -> list[str]:
    args = [side.subst(a) for a in step.args]
    if step.endpoints:
        args = [f"--endpoints={side.server.endpoint}", *args]
    return [str(side.ctl), *args]


def _env(side: Side, step: Step) -> dict:
    env = clean_env(ETCDCTL_API="3")
    for k, v in (step.env or {}).items():
        env[k] = side.subst(v)
    return env


def _stdin(side: Side, step: Step) -> bytes | None:
    if step.stdin is None:
        return None
    data = step.stdin if isinstance(step.stdin, bytes) else side.subst(step.stdin).encode()
    return data


def run_step(side: Side, step: Step, log: list[str]) -> Result:
    argv, env, data = _argv(side, step), _env(side, step), _stdin(side, step)
    if step.run_for is None and not step.during:
        try:
            p = subprocess.run(argv, env=env, cwd=side.work, input=data,
                               capture_output=True, timeout=step.timeout)
            r = Result(p.returncode, p.stdout, p.stderr)
        except subprocess.TimeoutExpired as e:
            r = Result(None, e.stdout or b"", (e.stderr or b"") + b"\n<harness: timed out>\n")
    else:
        r = _run_bounded(side, step, argv, env, data, log)
    _capture(side, step, r)
    return r


def _run_bounded(side, step, argv, env, data, log) -> Result:
    """Runs a command that may not exit by itself: its output goes to files,
    `during` steps run after `settle` s, and after `run_for` s (from the
    start) it gets SIGTERM, then SIGKILL."""
    n = len(list(side.work.glob(".bounded-*.out")))
    out_p, err_p = side.work / f".bounded-{n}.out", side.work / f".bounded-{n}.err"
    with open(out_p, "wb") as out, open(err_p, "wb") as err:
        p = subprocess.Popen(argv, env=env, cwd=side.work, stdout=out, stderr=err,
                             stdin=subprocess.PIPE if data is not None else subprocess.DEVNULL)
        t0 = time.monotonic()
        try:
            if data is not None:
                try:
                    p.stdin.write(data)
                    p.stdin.flush()
                    if not step.hold_stdin:
                        p.stdin.close()
                except BrokenPipeError:
                    pass
            if step.during:
                time.sleep(step.settle)
                for sub in step.during:
                    log.append(transcript_entry(side, sub, run_step(side, sub, log), "  (during) "))
            limit = step.run_for if step.run_for is not None else step.timeout
            try:
                p.wait(timeout=max(0.0, limit - (time.monotonic() - t0)))
            except subprocess.TimeoutExpired:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=TERM_GRACE_S)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait(timeout=TERM_GRACE_S)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=TERM_GRACE_S)
            if p.stdin is not None and not p.stdin.closed:
                try:
                    p.stdin.close()
                except BrokenPipeError:
                    pass
    return Result(p.returncode, out_p.read_bytes(), err_p.read_bytes())


# Ids the server picks at random, wherever etcdctl prints them.
ID_PATTERNS = (r"lease ([0-9a-f]+) granted", r"Member\s+([0-9a-f]+) added")
ID_PATTERNS_DEC = (r'"ID":(\d+),"TTL"', r'"ID" : (\d+)\n"TTL"')


def _capture(side: Side, step: Step, r: Result) -> None:
    text = r.stdout.decode(errors="replace")
    for name, rx in (step.capture or {}).items():
        m = re.search(rx, text)
        if m:
            side.vars[name] = m.group(1)
            side.add_id(m.group(1))
    for name, rx in (step.capture_dec or {}).items():
        m = re.search(rx, text)
        if m:
            side.vars[name] = m.group(1)
            side.add_id(m.group(1), 10)
    for rx in (*step.ids, *ID_PATTERNS):
        for m in re.finditer(rx, text):
            side.add_id(m.group(1))
    for rx in ID_PATTERNS_DEC:
        for m in re.finditer(rx, text):
            side.add_id(m.group(1), 10)


def _decode(b: bytes) -> str:
    return b.decode("utf-8", errors="backslashreplace")


def transcript_entry(side: Side, step: Step, r: Result, prefix: str = "") -> str:
    is_proto = _is_protobuf(step)
    out = proto_dump(r.stdout) if (is_proto and r.stdout) else _decode(r.stdout)
    parts = [f"{prefix}$ etcdctl {step.shown(side.subst)}\n"]
    if "rc" in step.compare:
        parts.append(f"[exit {r.rc}]\n")
    if "stdout" in step.compare:
        parts.append(f"--- stdout\n{out}")
        if out and not out.endswith("\n"):
            parts.append("\\ no newline at end\n")
    if "error" in step.compare:
        errs = [l for l in _decode(r.stderr).splitlines() if l.startswith("Error:")]
        parts.append(f"--- last Error: line\n{errs[-1] if errs else ''}\n")
    if "stderr" in step.compare:
        err = _decode(r.stderr)
        parts.append(f"--- stderr\n{err}")
        if err and not err.endswith("\n"):
            parts.append("\\ no newline at end\n")
    return "".join(parts)


def _is_protobuf(step: Step) -> bool:
    a = list(step.args)
    for i, x in enumerate(a):
        if x in ("--write-out=protobuf", "-w=protobuf"):
            return True
        if x in ("-w", "--write-out") and i + 1 < len(a) and a[i + 1] == "protobuf":
            return True
    return False


def run_scenario(side: Side, sc: Scenario) -> list[str]:
    """One transcript entry per top-level step (during-steps inline)."""
    entries = []
    for step in sc.steps:
        log: list[str] = []
        r = run_step(side, step, log)
        entries.append(transcript_entry(side, step, r) + "".join(log))
    return entries


# ---------------------------------------------------------------------------
# -w protobuf: a schema-less wire-format dump
# ---------------------------------------------------------------------------

def _varint(b: bytes, i: int) -> tuple[int, int]:
    v = shift = 0
    while True:
        if i >= len(b) or shift > 63:
            raise ValueError("bad varint")
        c = b[i]
        i += 1
        v |= (c & 0x7F) << shift
        shift += 7
        if not c & 0x80:
            return v, i


def _parse(b: bytes) -> list | None:
    """[(field, kind, value)] or None when b is not a well-formed message."""
    out, i = [], 0
    try:
        while i < len(b):
            key, i = _varint(b, i)
            field, wt = key >> 3, key & 7
            if field == 0:
                return None
            if wt == 0:
                v, i = _varint(b, i)
                out.append((field, "varint", v))
            elif wt == 1:
                if i + 8 > len(b):
                    return None
                out.append((field, "fixed64", int.from_bytes(b[i:i + 8], "little")))
                i += 8
            elif wt == 5:
                if i + 4 > len(b):
                    return None
                out.append((field, "fixed32", int.from_bytes(b[i:i + 4], "little")))
                i += 4
            elif wt == 2:
                n, i = _varint(b, i)
                if i + n > len(b):
                    return None
                out.append((field, "bytes", b[i:i + n]))
                i += n
            else:
                return None
    except ValueError:
        return None
    return out


def proto_dump(b: bytes, indent: int = 0) -> str:
    """Text dump of protobuf bytes; length-delimited fields that parse as
    messages (and are not printable text) are shown nested."""
    msg = _parse(b)
    if msg is None:
        return " " * indent + f"<not protobuf: {b!r}>\n"
    lines = []
    for field, kind, v in msg:
        pad = " " * indent
        if kind != "bytes":
            lines.append(f"{pad}{field}: {v}\n")
            continue
        printable = v and all(32 <= c < 127 for c in v)
        sub = None if printable else _parse(v)
        if sub:
            lines.append(f"{pad}{field} {{\n{proto_dump(v, indent + 2)}{pad}}}\n")
        else:
            lines.append(f"{pad}{field}: {v!r}\n")
    return "".join(lines)


# ---------------------------------------------------------------------------
# Normalisation
# ---------------------------------------------------------------------------

DURATION = r"(?:\d+h)?(?:\d+m)?\d+(?:\.\d+)?(?:ns|µs|us|ms)|(?:\d+h)?(?:\d+m)?\d+\.\d+s"


def normalise(text: str, side: Side) -> str:
    table_errors = _check_tables(text)  # on the raw text, before any substitution
    # Ports of this side's server.
    text = text.replace(f"127.0.0.1:{side.server.client_port}", "127.0.0.1:<client-port>")
    text = text.replace(f"127.0.0.1:{side.server.peer_port}", "127.0.0.1:<peer-port>")
    text = _normalise_ids(text, side.ids)
    # Durations.
    text = re.sub(rf"took = (?:{DURATION})", "took = <duration>", text)
    text = re.sub(rf'"took":"(?:{DURATION})"', '"took":"<duration>"', text)
    text = re.sub(rf"(?<=\| )(?:{DURATION})(?= +\|)", "<duration>", text)
    text = re.sub(rf'"Took" : (?:{DURATION})', '"Took" : <duration>', text)
    # The server's db pages in use depend on when its backend commits.
    text = re.sub(r'"dbSizeInUse":\d+', '"dbSizeInUse":<n>', text)
    # etcdctl's own zap log lines.
    text = re.sub(r'"ts":"[^"]*"', '"ts":"<ts>"', text)
    text = re.sub(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ (?=[CEWNID] \| )", "<time> ", text,
                  flags=re.M)
    text = re.sub(r'"ts":\d+(?:\.\d+)?(?:e[+-]?\d+)?', '"ts":"<ts>"', text)
    text = re.sub(r"client-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
                  "client-<uuid>", text)
    # The client retries a retryable error until its deadline: how many
    # times depends on timing, so a run of retry lines that differ only in
    # their attempt number counts as one.
    text = re.sub(r'(\{"level":"warn","ts":"<ts>",[^\n]*"msg":"retrying of unary invoker failed"'
                  r'[^\n]*"attempt":)\d+(,[^\n]*\n)(?:\1\d+\2)*', r"\1<n>\2", text)
    return "".join(f"<table error: {e}>\n" for e in table_errors) + _normalise_tables(text)


def _normalise_ids(text: str, ids: list[int]) -> str:
    """Each id -> <id-K>, K its place in `ids` (the server's member and
    cluster id, then ids in the order the scenario's steps first printed
    them: the same order on both sides)."""
    forms: dict[str, int] = {}
    for v in ids:
        forms[f"{v:x}"] = v
        forms[f"{v:016x}"] = v
        forms[str(v)] = v
    if not forms:
        return text
    alt = "|".join(sorted(map(re.escape, forms), key=len, reverse=True))
    # The whole run of spaces before an id (it may hold %16x padding).
    rx = re.compile(rf"(?<! )( *)(?<![0-9A-Za-z])({alt})(?![0-9A-Za-z])")
    order = {v: k + 1 for k, v in enumerate(ids)}

    def repl(m):
        spaces, form = m.group(1), m.group(2)
        v = forms[form]
        # %16x pads with spaces to 16 characters: drop that padding. etcdctl
        # puts a space before it ("Member %16x added"), and a run no longer
        # than that is a separator (", %x" with a 15-digit id), not padding.
        if re.fullmatch(r"[0-9a-f]+", form) and len(form) < 16 and len(spaces) > 16 - len(form):
            spaces = spaces[:len(spaces) - (16 - len(form))]
        return f"{spaces}<id-{order[v]}>"

    return rx.sub(repl, text)


def _table_blocks(lines: list[str]):
    """(start, end) of each tablewriter table in lines."""
    i = 0
    while i < len(lines):
        if re.fullmatch(r"\+[-+]+\+", lines[i]):
            j = i
            while j < len(lines) and (re.fullmatch(r"\+[-+]+\+", lines[j])
                                      or (lines[j].startswith("|") and lines[j].endswith("|"))):
                j += 1
            yield i, j
            i = j
        else:
            i += 1


def _check_tables(text: str) -> list[str]:
    """A tablewriter table: every line as long as its border, every | where
    the border has a +."""
    lines = text.split("\n")
    errs = []
    for i, j in _table_blocks(lines):
        border = lines[i]
        plus = [k for k, c in enumerate(border) if c == "+"]
        for n, line in enumerate(lines[i:j]):
            if len(line) != len(border):
                errs.append(f"table line {n} is {len(line)} wide, its border {len(border)}")
            elif line.startswith("|") and [k for k, c in enumerate(line) if c == "|"][:len(plus)] != plus:
                errs.append(f"table line {n}: cells do not line up with the border")
    return errs


def _normalise_tables(text: str) -> str:
    out = []
    lines = text.split("\n")
    i = 0
    blocks = dict(_table_blocks(lines))
    while i < len(lines):
        if i in blocks:
            j = blocks[i]
            block = lines[i:j]
            for line in block:
                if line.startswith("+"):
                    out.append("<border>")
                else:
                    out.append("| " + " | ".join(c.strip() for c in line[1:-1].split("|")) + " |")
            i = j
        else:
            out.append(lines[i])
            i += 1
    return "\n".join(out)


def unorder(text: str) -> str:
    """Members (or leases) in an order independent of their ids: the simple
    lines, the table rows, the JSON "members"/"leases" items, the fields blocks and the
    ETCD_INITIAL_CLUSTER entries, each sorted."""
    def sort_json(m):
        items = re.findall(r"\{[^{}]*\}", m.group(2))
        return f'"{m.group(1)}":[' + ",".join(sorted(items)) + "]"
    text = re.sub(r'"(members|leases)":\[((?:\{[^{}]*\},?)*)\]', sort_json, text)
    text = re.sub(r'ETCD_INITIAL_CLUSTER="([^"]*)"',
                  lambda m: 'ETCD_INITIAL_CLUSTER="' + ",".join(sorted(m.group(1).split(","))) + '"',
                  text)
    head, sep, rest = text.partition("--- stdout\n")
    if not sep:
        return text
    body, sep2, tail = rest.partition("--- stderr\n")
    lines = body.split("\n")
    if any(l.startswith('"ID" : ') for l in lines):  # fields: blocks start at "ID"
        # What follows the output's final newline is no part of the last
        # block (else the block sorted last carries an extra empty line).
        trail = [lines.pop()] if len(lines) > 1 and not lines[-1] else []
        blocks, cur, pre = [], [], []
        for l in lines:
            if l.startswith('"ID" : '):
                if cur:
                    blocks.append(cur)
                cur = [l]
            elif cur:
                cur.append(l)
            else:
                pre.append(l)
        if cur:
            blocks.append(cur)
        lines = pre + [l for b in sorted(blocks) for l in b] + trail
    else:
        data = [i for i, l in enumerate(lines)
                if l and not l.startswith(("<border>", "Member ", "ETCD_", "{"))]
        if any(l.startswith("| ") for l in lines):  # table: not the header row
            data = [i for i in data if lines[i].startswith("| ")][1:]
        for i, l in zip(data, sorted(lines[i] for i in data)):
            lines[i] = l
    return head + sep + "\n".join(lines) + sep2 + tail


def apply_tolerances(steps: list[Step], want: list[str], got: list[str]) -> list[str]:
    """Where a step allows a clock-dependent number to differ by <= 2,
    copy the reference's number into the candidate's transcript."""
    fixed = []
    for step, w, g in zip(steps, want, got):
        for rx in step.tolerate:
            wm, gm = list(re.finditer(rx, w)), list(re.finditer(rx, g))
            if len(wm) == len(gm) and all(abs(int(a.group(1)) - int(b.group(1))) <= 2
                                          for a, b in zip(wm, gm)):
                for a, b in reversed(list(zip(wm, gm))):
                    g = g[:b.start(1)] + a.group(1) + g[b.end(1):]
        fixed.append(g)
    return fixed


# etcd 3.5's changes that show in every scenario, applied like Step.v35.
V35_ALL: tuple = (
    (r"etcdctl version: 3\.4\.23\n", "etcdctl version: 3.5.0\n"),
    (r"API version: 3\.4\n", "API version: 3.5\n"),
    (r"VERSION:\n\t3\.4\.23\n", "VERSION:\n\t3.5.0\n"),
    (r"API VERSION:\n\t3\.4\n", "API VERSION:\n\t3.5\n"),
    # 3.5 added `etcdctl auth status` (etcd PR #11536).
    (r"(\tauth enable\t\tEnables authentication\n)",
     r"\1\tauth status\t\tReturns authentication status\n"),
    # 3.5 removed `etcdctl migrate` (the v2 store's migration).
    (r"\tmigrate\t\t\tMigrates keys in a v2 store to a mvcc store\n", ""),
    # 3.5 deprecated `etcdctl snapshot status` in favour of etcdutl's.
    (r"(\tsnapshot status\t\t|\tstatus\t)(Gets backend snapshot status of a given file\n)",
     r"\1[deprecated] \2"),
    # 3.5 added `etcdctl get --count-only` (etcd PR #11743).
    (r'(      --consistency="l"\t\t\tLinearizable\(l\) or Serializable\(s\)\n)',
     r"\1      --count-only[=false]\t\tGet only the count\n"),
    # 3.5 added `etcdctl watch --progress-notify`.
    (r"(      --prev-kv\[=false\]\t\tget the previous key-value pair before the event happens\n)",
     r"\1      --progress-notify[=false]\tget periodic watch progress notification from server\n"),
)


def to_v35(text: str, step: Step, ref: "Side | None" = None, cand: "Side | None" = None) -> str:
    """The reference's transcript as etcd 3.5 prints it: its etcdctl's
    changes when the two etcdctls differ, and the step's own `v35` when
    the etcdctls or (a reference_server group) the servers differ."""
    ctls_differ = (ref.ctl.resolve() != cand.ctl.resolve()) if ref and cand else \
        CAND_CTL.resolve() != REF_CTL.resolve()
    servers_differ = bool(ref and cand and ref.server.reference != cand.server.reference)
    patterns = ()
    if ctls_differ:
        patterns += V35_ALL
    if ctls_differ or servers_differ:
        patterns += tuple(step.v35)
    for pattern, repl in patterns:
        text = re.sub(pattern, repl, text)
    return text


def diff(want: str, got: str, ref_label: str, cand_label: str) -> str:
    return "".join(difflib.unified_diff(want.splitlines(keepends=True),
                                        got.splitlines(keepends=True),
                                        ref_label, cand_label, n=3))


def compare(sc: Scenario, ref: Side, cand: Side, want_raw: list[str],
            got_raw: list[str]) -> str:
    """'' when the normalised transcripts agree, else a readable report."""
    want = [normalise(e, ref) for e in want_raw]
    got = [normalise(e, cand) for e in got_raw]
    want = [to_v35(w, step, ref, cand) for w, step in zip(want, sc.steps)]
    for k, step in enumerate(sc.steps):
        if step.unordered:
            want[k], got[k] = unorder(want[k]), unorder(got[k])
    got = apply_tolerances(sc.steps, want, got)
    dump = os.environ.get("E2E_CTL_DIFF_DUMP")
    if dump:  # the normalised transcripts, for review
        pathlib.Path(dump).mkdir(parents=True, exist_ok=True)
        for label, entries in (("ref", want), ("cand", got)):
            (pathlib.Path(dump) / f"{sc.name}.{label}.txt").write_text("\n".join(entries))
    bad = [diff(w, g, f"reference {ref.ctl} on {ref.server.binary}",
                f"candidate {cand.ctl} on {cand.server.binary}")
           for w, g in zip(want, got) if w != g]
    if not bad:
        return ""
    return (f"scenario {sc.name}: {len(bad)} of {len(sc.steps)} steps differ\n\n"
            + "\n".join(bad))


class Pair:
    """The two sides of one group: fresh servers started identically."""

    def __init__(self, base: pathlib.Path, group: Group):
        dead = free_ports(1)[0]
        if group.reference_server:
            # The servers differ, the etcdctl is the reference's on both sides.
            self.ref = Side("ref", REF_CTL, base / "ref", group.server_args, dead,
                            reference_server=True)
            self.cand = Side("cand", REF_CTL, base / "cand", group.server_args, dead)
        else:
            self.ref = Side("ref", REF_CTL, base / "ref", group.server_args, dead)
            self.cand = Side("cand", CAND_CTL, base / "cand", group.server_args, dead)
        try:
            self.ref.start()
            self.cand.start()
        except BaseException:
            self.close()
            raise

    def run(self, sc: Scenario) -> str:
        want = run_scenario(self.ref, sc)
        got = run_scenario(self.cand, sc)
        return compare(sc, self.ref, self.cand, want, got)

    def close(self) -> None:
        self.ref.stop()
        self.cand.stop()

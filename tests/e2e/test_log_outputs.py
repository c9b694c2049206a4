"""etcd 3.5's log flags on a running member: --log-outputs (stdout, stderr,
file paths, systemd/journal) and --log-level; and etcd's errors for the
journal when journald is not there or is combined with another output.
The journal cases run in a mount namespace of their own with an empty
/run/systemd (fake_journald.py --absent), whatever the host has."""

import json
import pathlib
import subprocess
import sys

from conftest import BIN, clean_env

FAKE_JOURNALD = pathlib.Path(__file__).resolve().parent / "fake_journald.py"


def lines(text: str) -> list[dict]:
    return [json.loads(l) for l in text.splitlines() if l.startswith("{")]


def test_stdout_and_a_file_get_the_same_lines(etcd_factory, tmp_path):
    log_file = tmp_path / "etcd-out.log"
    m = etcd_factory(extra_args=("--log-outputs", f"stdout,{log_file}"))
    m.start()
    m.ok("put", "k", "v")
    m.stop()
    in_file = lines(log_file.read_text())
    on_stdout = lines(m.log_text())  # the process's stdout and stderr
    assert in_file, "nothing written to the file"
    assert [e["msg"] for e in in_file] == [e["msg"] for e in on_stdout]
    assert "ready to serve client requests" in [e["msg"] for e in in_file]


def test_warn_level_drops_info_lines(etcd_factory, tmp_path):
    log_file = tmp_path / "warn.log"
    m = etcd_factory(extra_args=("--log-outputs", str(log_file), "--log-level", "warn"))
    m.start()
    m.ok("put", "k", "v")
    m.stop()
    # With the default --auth-token etcd warns at every start.
    entries = lines(log_file.read_text())
    assert entries, "the default --auth-token warning is expected at warn level"
    assert {e["level"] for e in entries} <= {"warn", "error"}
    assert "simple token is not cryptographically signed" in [e["msg"] for e in entries]
    # Nothing went to stderr: the file is the only output.
    assert lines(m.log_text()) == []

    # --log-level=error drops that warning too.
    error_file = tmp_path / "error.log"
    e = etcd_factory(name="infra2", extra_args=("--log-outputs", str(error_file),
                                                "--log-level", "error"))
    e.start()
    e.ok("put", "k", "v")
    e.stop()
    assert lines(error_file.read_text()) == []


def run_without_journald(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "--", sys.executable,
         str(FAKE_JOURNALD), "/dev/null", "--absent", "--", str(BIN / "etcd"), *args],
        env=clean_env(), capture_output=True, text=True, timeout=60)


def test_journal_without_journald_is_etcds_error():
    r = run_without_journald("--log-outputs", "systemd/journal")
    assert r.returncode == 1, r.stderr
    last = lines(r.stderr)[-1]
    assert last["msg"] == "failed to verify flags"
    assert last["error"] == ("can't find journal (dial unixgram /run/systemd/journal/socket: "
                             "connect: no such file or directory)")


def test_journal_with_another_output_is_refused():
    r = run_without_journald("--log-outputs", "systemd/journal,stdout")
    assert r.returncode == 1
    last = lines(r.stderr)[-1]
    assert last["msg"] == "failed to verify flags"
    # etcd sorts the outputs and speaks of 'default' whatever the other one is.
    assert last["error"] == (
        "running with systemd/journal but other '--log-outputs' values "
        "([\"stdout\" \"systemd/journal\"]) are configured with 'default'; "
        "override 'default' value with something else")

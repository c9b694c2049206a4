"""The etcd binary's command line: version, help, flags, environment
variables, config files and logs, compared with etcd's documented behaviour."""

import json
import re

from conftest import clean_env, run


def block_data_dir(cwd, data_dir: str) -> None:
    """These tests look at how the configuration is read and logged. The
    binary now goes on to start a member on the default ports (2379/2380,
    possibly in use by someone else); a regular file where the data dir
    should be makes it stop right after logging its configuration."""
    (cwd / data_dir).write_text("not a directory\n")

CONFLICT = (
    'conflicting environment variable "ETCD_NAME" is shadowed by corresponding '
    "command-line flag (either unset environment variable or disable flag)"
)
ZAP_LINE = re.compile(
    r'^\{"level":"(debug|info|warn|error|panic|fatal)",'
    r'"ts":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z","caller":"[^"]+:\d+","msg":'
)


def log_lines(text: str) -> list[dict]:
    lines = [l for l in text.splitlines() if l.strip()]
    for l in lines:
        assert ZAP_LINE.match(l), f"not a zap-shaped JSON line: {l!r}"
    return [json.loads(l) for l in lines]


def test_version(etcd):
    r = etcd("--version")
    assert r.returncode == 0
    lines = r.stdout.splitlines()
    # First line as etcd's, so `etcd --version | head -1 | awk '{print $3}'` works.
    assert re.fullmatch(r"etcd Version: 3\.5\.\d+", lines[0])
    assert "API Version: 3.5" in lines
    assert any(re.fullmatch(r"Implementation: etcd-cpp \d+\.\d+\.\d+", l) for l in lines)
    assert r.stderr == ""
    # Go's flag package accepts one dash too.
    assert etcd("-version").stdout == r.stdout


def test_version_from_environment(etcd):
    r = etcd(env=clean_env(ETCD_VERSION="true"))
    assert r.returncode == 0
    assert r.stdout.startswith("etcd Version: 3.5.")


def test_help_lists_groups_and_defaults(etcd):
    for flag in ("--help", "-h", "-help"):
        r = etcd(flag)
        assert r.returncode == 0, flag
        out = r.stdout
        assert out.startswith("Usage:\n")
        for group in ("Member:", "Clustering:", "Logging:"):
            assert f"\n{group}\n" in out
        assert out.index("\nMember:\n") < out.index("\nClustering:\n") < out.index("\nLogging:\n")
        for flag_line in (
            "--name 'default'",
            "--data-dir '${name}.etcd'",
            "--listen-client-urls 'http://localhost:2379'",
            "--listen-peer-urls 'http://localhost:2380'",
            "--initial-cluster 'default=http://localhost:2380'",
            "--initial-cluster-token 'etcd-cluster'",
            "--initial-cluster-state 'new'",
            "--heartbeat-interval '100'",
            "--election-timeout '1000'",
            "--snapshot-count '100000'",
            "--max-request-bytes '1572864'",
            "--max-txn-ops '128'",
            "--quota-backend-bytes '0'",
            "--log-level 'info'",
            "--log-outputs 'default'",
            "--logger 'zap'",
        ):
            assert f"\n  {flag_line}\n" in out, flag_line


def test_unknown_flag_exits_2_naming_it(etcd):
    r = etcd("--no-such-flag")
    assert r.returncode == 2
    assert r.stderr.splitlines()[0] == "flag provided but not defined: -no-such-flag"
    assert "Usage:" in r.stderr
    assert r.stdout == ""


def test_bad_values_exit_2(etcd):
    r = etcd("--snapshot-count=lots")
    assert r.returncode == 2
    assert r.stderr.splitlines()[0] == (
        'invalid value "lots" for flag -snapshot-count: parse error'
    )
    r = etcd("--name")
    assert r.returncode == 2
    assert r.stderr.splitlines()[0] == "flag needs an argument: -name"
    r = etcd("--listen-client-urls", "localhost:2379")
    assert r.returncode == 2
    assert "URL scheme must be http, https, unix, or unixs: localhost:2379" in r.stderr


def test_env_flag_conflict_is_fatal(etcd):
    r = etcd("--name", "y", env=clean_env(ETCD_NAME="x"))
    assert r.returncode == 1
    entries = log_lines(r.stderr)
    assert entries[-1]["level"] == "fatal"
    assert entries[-1]["msg"] == CONFLICT


def test_env_conflict_in_every_flag_spelling(etcd):
    for args in (["-name", "y"], ["--name=y"], ["-name=y"]):
        r = etcd(*args, env=clean_env(ETCD_NAME="x"))
        assert r.returncode == 1, args
        assert log_lines(r.stderr)[-1]["msg"] == CONFLICT


def test_empty_env_is_ignored_and_unknown_env_warns(etcd, tmp_path):
    block_data_dir(tmp_path, "y.etcd")
    r = etcd(
        "--name", "y", "--log-outputs", "stdout",
        env=clean_env(ETCD_NAME="", ETCD_ENABLE_V2_BOGUS="1", ETCD_SNAPSHOT_COUNT="7"),
        cwd=tmp_path,
    )
    entries = log_lines(r.stdout)
    warn = [e for e in entries if e["msg"] == "unrecognized environment variable"]
    assert [e["environment-variable"] for e in warn] == ["ETCD_ENABLE_V2_BOGUS=1"]
    used = [e for e in entries if e["msg"] == "recognized and used environment variable"]
    assert [(e["variable-name"], e["variable-value"]) for e in used] == [("ETCD_SNAPSHOT_COUNT", "7")]
    conf = next(e for e in entries if e["msg"] == "starting an etcd server")
    assert conf["name"] == "y"
    assert conf["snapshot-count"] == 7
    assert conf["data-dir"] == "y.etcd"


def test_positional_argument_is_rejected(etcd):
    r = etcd("bar")
    assert r.returncode == 1
    entries = log_lines(r.stderr)
    assert entries[-1]["msg"] == "failed to verify flags"
    assert entries[-1]["error"] == "'bar' is not a valid flag"


def test_verification_errors(etcd):
    r = etcd("--heartbeat-interval", "500")
    assert r.returncode == 1
    err = log_lines(r.stderr)[-1]["error"]
    assert err == (
        "--election-timeout[1000ms] should be at least as 5 times as --heartbeat-interval[500ms]"
    )
    r = etcd("--log-level", "loud")
    assert r.returncode == 1
    assert log_lines(r.stderr)[-1]["error"] == 'unrecognized level: "loud"'


def test_config_file_wins_over_flags_and_env(etcd, tmp_path):
    cfg = tmp_path / "etcd.conf.yml"
    log_file = tmp_path / "etcd.log"
    cfg.write_text(
        "name: infra0\n"
        "snapshot-count: 2000\n"
        "heartbeat-interval: 200\n"
        "election-timeout: 2000\n"
        "initial-cluster-state: existing\n"
        f"log-outputs: [{log_file}]\n"
        "log-level: debug\n"
    )
    block_data_dir(tmp_path, "infra0.etcd")
    r = etcd("--config-file", str(cfg), "--snapshot-count", "5",
             env=clean_env(ETCD_MAX_TXN_OPS="3"), cwd=tmp_path)
    entries = log_lines(log_file.read_text())
    conf = next(e for e in entries if e["msg"] == "starting an etcd server")
    assert conf["name"] == "infra0"
    assert conf["snapshot-count"] == 2000
    assert conf["heartbeat-interval"] == "200ms"
    assert conf["election-timeout"] == "2s"
    assert conf["initial-cluster-state"] == "existing"
    assert conf["max-txn-ops"] == 128  # variables are ignored with a config file
    assert r.stderr == ""  # everything went to the file


def test_config_file_from_env(etcd, tmp_path):
    cfg = tmp_path / "c.yml"
    cfg.write_text("name: from-env-file\nlog-outputs: [stdout]\n")
    block_data_dir(tmp_path, "from-env-file.etcd")
    r = etcd(env=clean_env(ETCD_CONFIG_FILE=str(cfg)), cwd=tmp_path)
    conf = next(e for e in log_lines(r.stdout) if e["msg"] == "starting an etcd server")
    assert conf["name"] == "from-env-file"
    assert conf["data-dir"] == "from-env-file.etcd"


def test_log_outputs_and_levels(etcd, tmp_path):
    block_data_dir(tmp_path, "default.etcd")
    r = etcd("--log-outputs", "stdout", "--log-level", "warn", cwd=tmp_path)
    entries = log_lines(r.stdout)
    assert entries, "expected at least one warn-or-above line"
    assert all(e["level"] in ("warn", "error", "fatal", "panic") for e in entries)
    r = etcd("--log-outputs", "default,stdout", cwd=tmp_path)
    assert r.returncode == 1
    assert 'multi logoutput for \\"default\\" is not supported yet' in r.stderr


def test_defaults_in_logged_configuration(etcd, tmp_path):
    block_data_dir(tmp_path, "default.etcd")
    r = etcd("--log-outputs", "stdout", cwd=tmp_path)
    conf = next(e for e in log_lines(r.stdout) if e["msg"] == "starting an etcd server")
    assert conf["name"] == "default"
    assert conf["data-dir"] == "default.etcd"
    assert conf["listen-client-urls"] == ["http://localhost:2379"]
    assert conf["listen-peer-urls"] == ["http://localhost:2380"]
    assert conf["initial-cluster"] == "default=http://localhost:2380"
    assert conf["initial-cluster-token"] == "etcd-cluster"
    assert conf["initial-cluster-state"] == "new"
    assert conf["heartbeat-interval"] == "100ms"
    assert conf["quota-backend-bytes"] == 2147483648  # 0: the default, as etcd logs it
    assert conf["election-timeout"] == "1s"
    assert conf["snapshot-count"] == 100000
    assert conf["max-request-bytes"] == 1572864
    assert conf["max-txn-ops"] == 128
    assert conf["auto-compaction-retention"] == "0s"


def test_tools_say_what_they_are():
    for tool in ("etcdctl", "etcdutl"):
        r = run(tool, "version")
        assert r.returncode == 0
        assert r.stdout.splitlines()[0].startswith(f"{tool} version: 3.5.")
        assert "API version: 3.5" in r.stdout
        r = run(tool, "--help")
        assert r.returncode == 0
        # etcdctl's help names the tool ("etcdctl - ..."); etcdutl's help is
        # cobra's usage text alone, as etcd 3.5's etcdutl sets it.
        assert (f"{tool} -" if tool == "etcdctl" else f"Usage:\n  {tool} [command]\n") in r.stdout
        r = run(tool, "no-such-command")
        assert r.returncode == 1
        assert f'unknown command "no-such-command" for "{tool}"' in r.stderr

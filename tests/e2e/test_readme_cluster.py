"""The README's 3-member example, run as written (each port moved to a
free one, so that an etcd already on this machine is left alone): one
leader, and a key written through one member is read from every other."""

import json
import pathlib
import re
import shlex
import subprocess
import time

from conftest import BIN, REFERENCE_ETCDCTL, clean_env, free_ports

ROOT = pathlib.Path(__file__).resolve().parents[2]


def readme_commands() -> list[list[str]]:
    text = (ROOT / "README.md").read_text()
    section = text.split("## A 3-member cluster on one machine", 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    return [shlex.split(line) for line in block.splitlines() if line.strip()]


def test_readme_three_member_example(tmp_path):
    commands = readme_commands()
    assert len(commands) == 3 and all(c[0] == "build/bin/etcd" for c in commands)
    # Every port the example names, moved to a free one.
    ports = sorted({int(p) for c in commands for a in c for p in re.findall(r":(\d+)", a)})
    moved = dict(zip(ports, free_ports(len(ports))))

    def move(arg: str) -> str:
        return re.sub(r":(\d+)", lambda m: f":{moved[int(m.group(1))]}", arg)

    procs = []
    try:
        for c in commands:
            args = [str(BIN / "etcd")] + [move(a) for a in c[1:]]
            name = args[args.index("--name") + 1]
            log = open(tmp_path / f"{name}.log", "w")
            procs.append(subprocess.Popen(args, cwd=tmp_path, env=clean_env(),
                                          stdout=log, stderr=subprocess.STDOUT))
        endpoints = [move(f"127.0.0.1:{p}") for p in (2379, 22379, 32379)]

        def ctl(*args, endpoint=None):
            return subprocess.run(
                [str(REFERENCE_ETCDCTL), f"--endpoints={endpoint or ','.join(endpoints)}", *args],
                env=clean_env(ETCDCTL_API="3"), capture_output=True, text=True, timeout=30)

        deadline = time.monotonic() + 30
        leaders = set()
        while time.monotonic() < deadline:
            r = ctl("endpoint", "status", "-w", "json")
            if r.returncode == 0:
                st = json.loads(r.stdout)
                leaders = {s["Status"]["leader"] for s in st}
                if len(st) == 3 and len(leaders) == 1 and 0 not in leaders:
                    break
            time.sleep(0.2)
        assert len(leaders) == 1 and 0 not in leaders, r.stdout + r.stderr
        assert ctl("put", "readme", "works", endpoint=endpoints[1]).returncode == 0
        for e in endpoints:
            r = ctl("get", "readme", "--print-value-only", "--consistency=s", endpoint=e)
            deadline = time.monotonic() + 10
            while r.stdout != "works\n" and time.monotonic() < deadline:
                time.sleep(0.1)
                r = ctl("get", "readme", "--print-value-only", "--consistency=s", endpoint=e)
            assert r.stdout == "works\n", (e, r.stdout, r.stderr)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

"""Issue 13.4: what the project's own scripts may do on an operator's
machine. They stop only processes they started, by PID: never by name, as
an operator's production etcd may run on the same host."""

import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[2]
# The two commands, spelt in pieces so that this file does not match itself.
NAMES = ("p" "kill", "kill" "all")
BY_NAME = re.compile(r"(^|[^a-z_])(" + "|".join(NAMES) + r")([^a-z_]|$)")


def test_nothing_stops_processes_by_name():
    offenders = []
    for top in ("scripts", "tests", "bench", ".ci", "Makefile"):
        path = ROOT / top
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        for f in files:
            if f.suffix == ".pyc":
                continue
            for n, line in enumerate(f.read_text(errors="replace").splitlines(), 1):
                if BY_NAME.search(line) and not line.lstrip().startswith("#"):
                    offenders.append(f"{f.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def test_make_run_builds_only_the_server():
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile.split("\nrun:", 1)[1].split("\n\n", 1)[0]
    assert "scripts/build release etcd" in recipe
    assert "build/bin/etcd" in recipe
    assert not re.search(r"^run:.*\bbuild\b", makefile, re.M), "run must not depend on `build`"

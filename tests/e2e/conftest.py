"""Shared fixtures for the black-box suites: they drive the built binaries
in build/bin/ as an operator would, with real processes."""

import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(os.environ.get("ETCD_BIN_DIR", ROOT / "build" / "bin"))


def binary(name: str) -> pathlib.Path:
    path = BIN / name
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: build first (scripts/build release)")
    return path


def clean_env(**extra: str) -> dict:
    """The caller's environment without ETCD_* / ETCDCTL_* variables, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ETCD_", "ETCDCTL_"))}
    env.update(extra)
    return env


def run(name: str, *args: str, env: dict | None = None, cwd=None, timeout: float = 30):
    return subprocess.run(
        [str(binary(name)), *args],
        env=env if env is not None else clean_env(),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture
def etcd():
    """Runs build/bin/etcd with the given arguments; returns CompletedProcess."""

    def _run(*args: str, env: dict | None = None, cwd=None):
        return run("etcd", *args, env=env, cwd=cwd)

    return _run

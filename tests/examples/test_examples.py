"""The examples run as users run them (subprocesses) and produce what they promise."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from tests.conftest import REPO

pytestmark = pytest.mark.slow


def test_crosslingual_similarity_writes_pictures(tiny_model_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "img"
    done = subprocess.run(
        [
            sys.executable,
            "examples/crosslingual_similarity.py",
            "--model",
            str(tiny_model_dir),
            "--out",
            str(out),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    for name in ("similarity_heatmap.png", "projection.png"):
        data = (out / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
    assert len([line for line in done.stdout.splitlines() if "cosine" in line]) == 20


def test_language_classifier_trains_and_reports_accuracy(tiny_model_dir: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "examples/language_classifier.py",
            "--model",
            str(tiny_model_dir),
            "--per-language",
            "20",
            "--master",
            "local[2]",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    accuracy = float(done.stdout.strip().splitlines()[-1].rsplit(" ", 1)[1])
    assert 0.15 <= accuracy <= 1.0  # 12 classes, chance 0.08; a 2-layer random model, 20 sentences each

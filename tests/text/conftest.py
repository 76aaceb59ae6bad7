"""Fixtures and helpers for the text segmentation tests: the UD samples and span F1."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path
from typing import Any

import pytest

UD_DIR = Path(__file__).resolve().parent.parent / "data" / "ud_pud"
LANGS = ("ar", "de", "en", "es", "fr", "hi", "ja", "ko", "ru", "th", "tr", "zh")


@cache
def _load(lang: str) -> tuple[dict[str, Any], ...]:
    name = f"{lang}_gsd.first400.jsonl" if lang == "ja" else f"{lang}_pud.first400.jsonl"
    with open(UD_DIR / name, encoding="utf-8") as f:
        return tuple(json.loads(line) for line in f)


@pytest.fixture(scope="session")
def ud() -> Callable[[str], tuple[dict[str, Any], ...]]:
    """Return a loader: ``ud("en")`` gives the 400 gold sentences of that language."""
    return _load


def prf(pred: Iterable[object], gold: Iterable[object]) -> tuple[float, float, float]:
    """Precision, recall and F1 of two collections of hashable items (spans, boundaries)."""
    p, g = set(pred), set(gold)
    tp = len(p & g)
    precision = tp / len(p) if p else 0.0
    recall = tp / len(g) if g else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


@pytest.fixture(scope="session")
def span_prf() -> Callable[[Iterable[object], Iterable[object]], tuple[float, float, float]]:
    """Return :func:`prf` (precision, recall, F1 of two sets)."""
    return prf

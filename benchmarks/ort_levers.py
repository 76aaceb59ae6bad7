"""ONNX Runtime levers measured in one process, without Spark: ``python -m benchmarks.ort_levers OUT.json``.

Two parts:

* **padding** (exact, no timing): padded positions per real position when sparkbert's
  ``make_batches`` length-sorts each chunk of ``chunkRows`` rows of a partition into batches
  of at most ``batchSize`` rows, for several chunk and batch sizes, on all 4,800 UD sentences;
* **speed**: the same real sentences, globally length-sorted, run through one session per
  setting (batch size, threads, spinning, fused or unfused graph, prepacking, int8); rounds
  are interleaved and the best round kept, as wall rate and as rate per CPU-second of the
  process (the steadier one on a shared machine).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from benchmarks.common import machine, sentences


def padding_table(tokenizer_json: Path, partitions: int = 4) -> list[dict[str, Any]]:
    from sparkbert.runtime.batching import make_batches
    from sparkbert.runtime.tokenization import encode, load_tokenizer

    tok = load_tokenizer(tokenizer_json)
    lengths = np.minimum(np.array([len(e) for e in encode(tok, sentences(4800))]) + 2, 128)
    real = int(lengths.sum())
    rows = []
    for chunk in (64, 256, 1024, 4096):
        for batch in (4, 8, 16, 32, 64):
            padded = batches = 0
            for p in range(partitions):
                part = lengths[p::partitions].tolist()
                for s in range(0, len(part), chunk):
                    piece = part[s : s + chunk]
                    for b in make_batches(piece, batch_size=batch, token_budget=8192):
                        padded += max(piece[i] for i in b) * len(b)
                        batches += 1
            rows.append(
                {
                    "chunk_rows": chunk,
                    "batch_size": batch,
                    "padded_per_real": round(padded / real, 3),
                    "batches": batches,
                }
            )
    return rows


def _session(path: str, threads: int, spinning: bool, config: dict[str, str]) -> Any:
    """A CPU session built by the library's one session-options builder, plus ``config`` entries."""
    import onnxruntime as ort

    from sparkbert.runtime.session import SessionOptions, ort_session_options

    so = ort_session_options(SessionOptions(intra_op_threads=threads, allow_spinning=spinning), config)
    return ort.InferenceSession(path, sess_options=so, providers=["CPUExecutionProvider"])


def prepacked_model(onnx_path: str | os.PathLike[str], out_dir: str | os.PathLike[str]) -> Path:
    """Write (once) ``onnx_path`` optimized, with its prepacked weights in an mmap-able data file.

    ``session.save_external_prepacked_constant_initializers`` makes ONNX Runtime write the
    weights as its kernels pack them (MLAS layouts) into the external data file; a session
    loaded from that file maps them instead of packing a private heap copy per process
    (what ``shareWeights`` does inside the library). The layout depends on the CPU's kernels.
    """
    import onnxruntime as ort

    from sparkbert.runtime.session import SessionOptions, ort_session_options

    out = Path(out_dir)
    model = out / "model.onnx"
    if model.is_file():
        return model
    tmp = out.with_name(out.name + ".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    config = {
        "session.optimized_model_external_initializers_file_name": "model.onnx.data",
        "session.optimized_model_external_initializers_min_size_in_bytes": "1024",
        "session.save_external_prepacked_constant_initializers": "1",
    }
    so = ort_session_options(SessionOptions(intra_op_threads=1), config)
    so.optimized_model_filepath = str(tmp / "model.onnx")
    ort.InferenceSession(str(onnx_path), sess_options=so, providers=["CPUExecutionProvider"])
    tmp.rename(out)
    return model


def speed(settings: dict[str, dict[str, Any]], n: int, rounds: int, tokenizer_json: Path) -> dict[str, Any]:
    from sparkbert.runtime.batching import make_batches, pad_batch
    from sparkbert.runtime.tokenization import encode, load_tokenizer

    tok = load_tokenizer(tokenizer_json)
    seqs = [np.concatenate([[101], e.ids[:126], [102]]).astype(np.int64) for e in encode(tok, sentences(n))]
    lengths = [len(s) for s in seqs]
    real = sum(lengths) - 2 * len(seqs)
    plans = {}
    for s in settings.values():
        bs = s.get("batch_size", 32)
        if bs not in plans:
            plans[bs] = make_batches(lengths, batch_size=bs, token_budget=8192)
    results: dict[str, Any] = {}
    sessions = {}
    for name, s in settings.items():
        t = time.perf_counter()
        sessions[name] = _session(
            s["path"], s.get("threads", 1), s.get("spinning", False), s.get("config", {})
        )
        results[name] = {
            **{k: v for k, v in s.items() if k != "path"},
            "load_s": round(time.perf_counter() - t, 2),
            "rounds": [],
        }
    for _ in range(rounds):
        for name, s in settings.items():
            sess = sessions[name]
            batches = plans[s.get("batch_size", 32)]
            padded = sum(max(lengths[j] for j in b) * len(b) for b in batches)
            i, m, tt = pad_batch([seqs[j] for j in batches[0]], 0)
            sess.run(None, {"input_ids": i, "attention_mask": m, "token_type_ids": tt})
            c, t = time.process_time(), time.perf_counter()
            for b in batches:
                i, m, tt = pad_batch([seqs[j] for j in b], 0)
                sess.run(None, {"input_ids": i, "attention_mask": m, "token_type_ids": tt})
            wall, cpu = time.perf_counter() - t, time.process_time() - c
            results[name]["rounds"].append(
                {
                    "tokens_per_s": round(real / wall, 1),
                    "tokens_per_cpu_s": round(real / cpu, 1),
                    "padded_per_cpu_s": round(padded / cpu, 1),
                    "padded_per_real": round(padded / sum(lengths), 3),
                    "loadavg": round(os.getloadavg()[0], 1),
                }
            )
    for r in results.values():
        r["tokens_per_s"] = max(x["tokens_per_s"] for x in r["rounds"])
        r["tokens_per_cpu_s"] = max(x["tokens_per_cpu_s"] for x in r["rounds"])
        r["padded_per_cpu_s"] = max(x["padded_per_cpu_s"] for x in r["rounds"])
        r["padded_per_real"] = r["rounds"][0]["padded_per_real"]
    return {"sentences": n, "tokens": real, "rounds": rounds, "settings": results}


def main(argv: list[str]) -> None:
    cfg = json.loads(Path(argv[0]).read_text())
    fp32 = Path(cfg["fp32_dir"])
    settings: dict[str, dict[str, Any]] = {
        "fp32 bs32 1t": {"path": str(fp32 / "model.onnx"), "batch_size": 32},
        "fp32 bs8 1t": {"path": str(fp32 / "model.onnx"), "batch_size": 8},
        "fp32 bs4 1t": {"path": str(fp32 / "model.onnx"), "batch_size": 4},
        "fp32 bs16 1t": {"path": str(fp32 / "model.onnx"), "batch_size": 16},
        "fp32 bs64 1t": {"path": str(fp32 / "model.onnx"), "batch_size": 64},
        "fp32 bs32 2t spin off": {"path": str(fp32 / "model.onnx"), "batch_size": 32, "threads": 2},
        "fp32 bs32 2t spin on": {
            "path": str(fp32 / "model.onnx"),
            "batch_size": 32,
            "threads": 2,
            "spinning": True,
        },
        "fp32 bs32 1t no prepacking": {
            "path": str(fp32 / "model.onnx"),
            "batch_size": 32,
            "config": {"session.disable_prepacking": "1"},
        },
    }
    if cfg.get("prepacked"):
        settings["fp32 bs32 1t prepacked external"] = {"path": cfg["prepacked"], "batch_size": 32}
    if cfg.get("unfused_dir"):
        settings["fp32 bs32 1t unfused graph"] = {
            "path": str(Path(cfg["unfused_dir"]) / "model.onnx"),
            "batch_size": 32,
        }
    if cfg.get("int8_dir"):
        settings["int8 bs32 1t"] = {"path": str(Path(cfg["int8_dir"]) / "model.onnx"), "batch_size": 32}
        settings["int8 bs8 1t"] = {"path": str(Path(cfg["int8_dir"]) / "model.onnx"), "batch_size": 8}
    if cfg.get("only"):
        settings = {k: v for k, v in settings.items() if any(o in k for o in cfg["only"])}
    report = {
        "padding": padding_table(fp32 / "tokenizer.json"),
        "speed": speed(settings, cfg.get("sentences", 120), cfg.get("rounds", 2), fp32 / "tokenizer.json"),
        "machine": machine(),
    }
    Path(argv[1]).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])

"""The two measured parts of ``gpu_spark.py``, each run in its own process by its driver.

    python benchmarks/gpu_children.py raw|spark SPEC.json OUT.json

``raw``: raw ONNX Runtime on the detected sentences (``run`` and IOBinding per batch size, a
token-budget and a fixed-shape variant); ``spark``: the full pipeline on one ``local[k]`` at
every batch size. Each writes its result after every measurement, so a child stopped at its
deadline leaves what it measured. See ``gpu_spark.py`` for the whole check.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import Sampler, now, read_jsonl, whole_sequences

#: demoBERT's sequence length: the fixed-shape variant of the raw part
FIXED_SEQ = 128


class GpuSampler:
    """GPU utilisation and memory every 500 ms from ``nvidia-smi -lms`` (nothing without one)."""

    def __init__(self) -> None:
        self.util: list[float] = []
        self.mem: list[float] = []
        self._proc: subprocess.Popen[str] | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> GpuSampler:
        smi = shutil.which("nvidia-smi")
        if smi is None:
            return self
        # the GPU the tasks use: ordinal 0 of CUDA_VISIBLE_DEVICES when it names one, else GPU 0
        visible = os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",")[0].strip()
        query = "--query-gpu=utilization.gpu,memory.used"
        self._proc = subprocess.Popen(
            [smi, f"--id={visible or 0}", query, "--format=csv,noheader,nounits", "-lms", "500"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        return self

    def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        for line in self._proc.stdout:
            try:
                util, mem = (float(x) for x in line.split(",")[:2])
            except ValueError:
                continue
            self.util.append(util)
            self.mem.append(mem)

    def stop(self) -> dict[str, Any]:
        if self._proc is None:
            return {}
        self._proc.terminate()
        self._proc.wait(timeout=10)
        if self._thread is not None:
            self._thread.join(timeout=5)
        if not self.util:
            return {}
        return {
            "gpu_util_mean_pct": round(sum(self.util) / len(self.util), 1),
            "gpu_mem_peak_mib": round(max(self.mem)),
            "gpu_samples": len(self.util),
        }


def _dump(path: str, result: dict[str, Any]) -> None:
    """Write the child's result so far: a child killed at its deadline still leaves what it measured."""
    tmp = Path(path).with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    tmp.replace(path)


# ---- part 2: raw ONNX Runtime -----------------------------------------------------------------
def child_raw(spec: dict[str, Any], out_path: str) -> None:
    """Raw ONNX Runtime: ``run`` and IOBinding per batch size, a token-budget and a fixed-shape variant."""
    import numpy as np

    from sparkbert.model.format import OUTPUT_NAME
    from sparkbert.runtime.batching import make_batches, pad_batch
    from sparkbert.runtime.session import SessionOptions, create_session
    from sparkbert.runtime.tokenization import encode, load_tokenizer, special_ids

    deadline = float(spec["deadline"])
    model_dir = Path(spec["model_dir"])
    from sparkbert.model.directory import open_model_directory

    model = open_model_directory(model_dir)
    limit = model.max_positions
    device = spec["device"]
    t = now()
    tok = load_tokenizer(model_dir / "tokenizer.json")
    ids = special_ids(tok)
    session = create_session(str(model_dir / "model.onnx"), SessionOptions(device=device))
    result: dict[str, Any] = {
        "providers": session.get_providers(),
        "session_load_s": round(now() - t, 2),
        "variants": [],
        "skipped": [],
    }
    if device == "cuda" and result["providers"][0] != "CUDAExecutionProvider":
        raise SystemExit(f"the CUDA provider did not load: {result['providers']}")
    inputs = {i.name for i in session.get_inputs()}
    bind_device = "cuda" if device == "cuda" else "cpu"
    texts = read_jsonl(spec["sentences_file"])
    encodings = [e for e in encode(tok, texts) if len(e)]
    cls, sep = np.array([ids.cls], np.int64), np.array([ids.sep], np.int64)
    whole = whole_sequences(encodings, limit, ids.cls, ids.sep)
    lengths = [len(s) for s in whole]
    result.update(
        sequences=len(whole),
        pieces=int(sum(len(e) for e in encodings)),
        sentences_chunked=sum(1 for e in encodings if len(e) > limit - 2),
        position_limit=limit,
    )
    _dump(out_path, result)

    def feed(seqs: list[np.ndarray]) -> dict[str, np.ndarray]:
        i, m, tt = pad_batch(seqs, ids.pad)
        d = {"input_ids": i, "attention_mask": m, "token_type_ids": tt}
        return {k: v for k, v in d.items() if k in inputs}

    def run_plain(f: dict[str, np.ndarray]) -> float:
        (hidden,) = session.run([OUTPUT_NAME], f)
        return float(hidden[0, 0, 0])

    def run_bound(f: dict[str, np.ndarray]) -> float:
        binding = session.io_binding()
        for name, value in f.items():
            binding.bind_cpu_input(name, value)
        binding.bind_output(OUTPUT_NAME, bind_device, 0)
        session.run_with_iobinding(binding)
        (hidden,) = binding.copy_outputs_to_cpu()  # the one device-to-host copy
        return float(hidden[0, 0, 0])

    methods = {"run": run_plain, "iobinding": run_bound}

    def timed(name: str, method: str, batches: list[list[int]], seqs: list[np.ndarray], **extra: Any) -> None:
        if time.time() > deadline:
            result["skipped"].append(f"{name} ({method}): time budget")
            return
        go = methods[method]
        t = now()
        for b in [*batches[:: max(1, len(batches) // 4)][:4], batches[-1]]:  # warm-up, longest batch too
            go(feed([seqs[j] for j in b]))
        warmup = now() - t
        c, t = time.process_time(), now()
        checksum = 0.0
        for b in batches:
            checksum += go(feed([seqs[j] for j in b]))
        elapsed, cpu = now() - t, time.process_time() - c
        lens = [len(s) for s in seqs]
        padded = int(sum(max(lens[j] for j in b) * len(b) for b in batches))
        result["variants"].append(
            {
                "variant": name,
                "method": method,
                "elapsed_s": round(elapsed, 4),
                "cpu_s": round(cpu, 3),
                "warmup_s": round(warmup, 2),
                "batches": len(batches),
                "sequences": len(seqs),
                "real_tokens": int(sum(lens)),
                "padded_tokens": padded,
                "checksum": checksum,
                **extra,
            }
        )
        _dump(out_path, result)

    sizes = [int(b) for b in spec["batch_sizes"]]
    for bs in sizes:
        batches = make_batches(lengths, batch_size=bs, token_budget=bs * max(lengths))
        for method in methods:
            timed("whole", method, batches, whole, batch_size=bs, token_budget=None)
    done = [v for v in result["variants"] if v["variant"] == "whole"]
    best_method = min(done, key=lambda v: v["elapsed_s"])["method"] if done else "run"
    budget = int(spec.get("token_budget") or 0)
    if budget:
        batches = make_batches(lengths, batch_size=max(sizes), token_budget=budget)
        timed("token budget", best_method, batches, whole, batch_size=max(sizes), token_budget=budget)
    # demoBERT's shape: [B, 128], every position real (random ids), about as many tokens as the set
    rng = np.random.default_rng(0)
    vocab = int(model.manifest.get("vocab_size") or 30000)
    bs = max(sizes)
    n_fixed = max(4, round(sum(lengths) / (bs * FIXED_SEQ))) * bs
    fixed = [
        np.concatenate([cls, rng.integers(1000, vocab, FIXED_SEQ - 2), sep]).astype(np.int64)
        for _ in range(n_fixed)
    ]
    batches = [list(range(i, i + bs)) for i in range(0, n_fixed, bs)]
    timed(f"fixed [{bs}, {FIXED_SEQ}]", best_method, batches, fixed, batch_size=bs, token_budget=None)
    _dump(out_path, result)


# ---- part 3: the pipeline through Spark -------------------------------------------------------
def child_spark(spec: dict[str, Any], out_path: str) -> None:
    """The full pipeline on one ``local[k]``, at every batch size; the model loads during a warm-up."""
    from pyspark.ml import PipelineModel
    from pyspark.sql import functions as F

    from benchmarks.common import start_spark
    from sparkbert.stages.standard import standard_stages

    deadline = float(spec["deadline"])
    texts = read_jsonl(spec["rows_file"])
    t0 = now()
    spark = start_spark(spec["master"], {"spark.sql.execution.arrow.maxRecordsPerBatch": "10000"})
    cores = spark.sparkContext.defaultParallelism
    partitions = int(spec.get("partitions") or 2 * cores)
    df = spark.createDataFrame(list(enumerate(texts)), "id long, text string").repartition(partitions).cache()
    df.select(F.count("id")).collect()
    df.limit(2).mapInArrow(lambda it: it, df.schema).collect()  # starts Spark's Python daemon
    warm_rows = texts[: max(int(spec.get("warmup_rows", 64)), 4 * cores)]
    warm = spark.createDataFrame(list(enumerate(warm_rows)), "id long, text string").repartition(cores)
    from sparkbert.model.directory import open_model_directory

    dim = open_model_directory(spec["model_dir"]).hidden_size
    result: dict[str, Any] = {
        "master": spec["master"],
        "cores": cores,
        "partitions": partitions,
        "spark_startup_s": round(now() - t0, 2),
        "results": [],
        "skipped": [],
    }
    _dump(out_path, result)
    last = 0.0
    for bs in spec["batch_sizes"]:
        left = deadline - time.time()
        if left < 1.3 * last + 5:
            result["skipped"].append(f"batchSize {bs}: time budget ({left:.0f} s left)")
            _dump(out_path, result)
            continue
        params: dict[str, Any] = {"device": spec["device"]}
        if spec.get("token_budget"):
            params["maxTokensPerBatch"] = int(spec["token_budget"])
        pipeline = PipelineModel(stages=standard_stages(spec["model_dir"], batch_size=int(bs), **params))
        t = now()
        rows = pipeline.transform(warm).select("token", "embeddings").collect()
        for r in rows:
            assert len(r.embeddings) == len(r.token), "one embedding per token"
            assert all(len(e.embeddings) == dim for e in r.embeddings)
        warmup = now() - t
        sampler, gpu = Sampler().start(), GpuSampler().start()
        t = now()
        pipeline.transform(df).select("embeddings").write.format("noop").mode("overwrite").save()
        elapsed = now() - t
        stats, gpu_stats = sampler.stop(), gpu.stop()
        last = elapsed + warmup
        keep = ("cpu_s", "cpu_by_process_s", "machine_busy_cpu_s", "others_cpu_s", "python_workers")
        result["results"].append(
            {
                "batch_size": int(bs),
                "max_tokens_per_batch": pipeline.stages[-1].getMaxTokensPerBatch(),
                "elapsed_s": round(elapsed, 3),
                "warmup_s": round(warmup, 2),
                **{k: stats.get(k) for k in keep},
                "peak_worker_rss_mib": stats.get("peak_worker_rss_mib"),
                **gpu_stats,
            }
        )
        _dump(out_path, result)
    spark.stop()


def main(argv: list[str]) -> None:
    kind, spec_file, out_file = argv[:3]
    spec = json.loads(Path(spec_file).read_text())
    (child_raw if kind == "raw" else child_spark)(spec, out_file)


if __name__ == "__main__":
    main(sys.argv[1:])

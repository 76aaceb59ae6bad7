"""The contenders, each run in its own process: ``python -m benchmarks.contenders SPEC.json OUT.json``.

=====================  ==========================================================================
name                   what runs
=====================  ==========================================================================
``sparkbert``          DocumentAssembler → SentenceDetector → Tokenizer → BertEmbeddings (fp32 or
                       int8 model directory), Spark ``local[*]``, forced by a ``noop`` write of
                       the embeddings column; set through the stages' public params only;
                       ``text_stages_only``: the first three stages, forcing the token column;
                       ``replay``: the pipeline's output saved per partition as Arrow files,
                       then replayed by a ``mapInArrow`` that does nothing else (Spark's floor)
``ceiling``            raw ONNX Runtime in one process, all cores, on the same sentences' word
                       pieces (windows as sparkbert cuts them), globally length-sorted batches
                       padded to their own longest row; no Spark. With ``batch_sizes`` (the
                       ``--fp32`` mode): each sentence whole, ``[CLS] pieces [SEP]`` (over the
                       model's position limit: consecutive chunks of it), timed at every batch
                       size, then the windowed sequences at the fastest one
``predict_batch_udf``  ``pyspark.ml.functions.predict_batch_udf``: Hugging Face ``tokenizers``
                       padding to ``max_length=128`` + ONNX Runtime with default session options
                       on the same ``model.onnx``; returns each row's unpadded vectors
``transformers``       Hugging Face ``BertModel`` (PyTorch CPU) in a pandas UDF, tokenizer padding
                       to the longest row of each 64-row batch, ``max_length=128``; returns each
                       row's unpadded vectors
``encode_batch``       Hugging Face ``tokenizers`` ``encode_batch`` of every row, one process, its
                       own threads (the host path's floor; ``cpu_s`` is the process's CPU time)
=====================  ==========================================================================

Every contender reads the same sentence file and reports wall time from the first row to
the last embedding materialised (after a warm-up on a few rows that also loads the model),
its start-up and model-load times separately, CPU time of its whole process tree, and the
peak memory of its Python workers. ``warm_passes`` (``--warm-passes``): that many untimed passes
over all the rows before the timed one, so the JVM's JIT compiler has settled as in a long job.
``library_src`` (``--host-baseline``): sparkbert imported from another checkout's ``src``
(checked in the driver and a worker before anything is measured).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd  # at module level: pandas_udf resolves the type hints from the globals

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import Sampler, now, read_jsonl, start_spark, whole_sequences

PREDICT_BATCH_SIZE = 64
HF_BATCH_SIZE = 64
MAX_LENGTH = 128


def _texts(spec: dict[str, Any]) -> list[str]:
    return read_jsonl(spec["sentences_file"])[: spec["n"]]


def _input_df(spark: Any, texts: list[str], partitions: int) -> Any:
    from pyspark.sql import functions as F

    df = spark.createDataFrame([(i, t) for i, t in enumerate(texts)], "id long, text string")
    df = df.repartition(partitions).cache()
    df.select(F.count("id")).collect()
    return df


def _force(df: Any, column: str) -> None:
    """Materialise every row of ``column`` (Spark's ``noop`` sink writes nothing)."""
    df.select(column).write.format("noop").mode("overwrite").save()


# ---- Spark contenders -------------------------------------------------------------------------
def _sparkbert_pipeline(spec: dict[str, Any]) -> Any:
    """The library's standard stages, set through public params only (unset: the library's default)."""
    from pyspark.ml import PipelineModel

    from sparkbert.stages.standard import standard_stages

    params: dict[str, Any] = {"device": "cpu"}
    for key, param in (
        ("batch_size", "batch_size"),
        ("max_sentence_length", "max_sentence_length"),
        ("token_budget", "maxTokensPerBatch"),
        ("intra_op_threads", "intraOpThreads"),
        ("share_weights", "shareWeights"),
    ):
        if spec.get(key) is not None:
            params[param] = spec[key]
    if spec.get("text_stages_only"):  # DocumentAssembler -> SentenceDetector -> Tokenizer
        return PipelineModel(stages=standard_stages(spec["model_dir"], **params)[:3])
    return PipelineModel(stages=standard_stages(spec["model_dir"], **params))


def _transform(pipeline: Any, df: Any, spec: dict[str, Any]) -> Any:
    if spec.get("stage_by_stage"):  # a new DataFrame between stages: one mapInArrow per stage
        for stage in pipeline.stages:
            df = stage.transform(df).select("*")
        return df
    return pipeline.transform(df)  # the library fuses consecutive stages into one mapInArrow


def _replayed(out: Any, source: Any, folder: Path) -> Any:
    """``out``'s rows, computed once now and saved per partition as Arrow files, replayed by a
    ``mapInArrow`` over ``source`` (``out``'s input) that does nothing else: what Spark itself
    spends on the output (Arrow to rows in the JVM, the projection of every column) when the
    Python side costs nothing."""
    import pyarrow as pa
    from pyspark import TaskContext
    from pyspark.sql.types import StructField, StructType

    folder.mkdir(parents=True, exist_ok=True)
    where = str(folder)

    def save(batches: Any) -> Any:
        path = f"{where}/{TaskContext.get().partitionId()}.arrow"  # type: ignore[union-attr]
        writer = None
        for batch in batches:
            writer = writer or pa.ipc.new_file(path, batch.schema)
            writer.write_batch(batch)
        if writer is not None:
            writer.close()
        return iter([])

    out.mapInArrow(save, "saved int").collect()
    schema = StructType([StructField(f.name, f.dataType, f.nullable) for f in out.schema.fields])

    def replay(batches: Any) -> Any:
        for _ in batches:  # the input is read, as the pipeline reads it
            pass
        path = f"{where}/{TaskContext.get().partitionId()}.arrow"  # type: ignore[union-attr]
        reader = pa.ipc.open_file(pa.memory_map(path))
        for i in range(reader.num_record_batches):
            yield reader.get_batch(i)

    return source.mapInArrow(replay, schema)


def _check_sparkbert(rows: list[Any], dim: int) -> int:
    n = 0
    for r in rows:
        assert len(r.embeddings) == len(r.token), "one embedding per token"
        for e in r.embeddings:
            assert len(e.embeddings) == dim
        n += len(r.embeddings)
    return n


def _predict_batch_udf_column(spec: dict[str, Any]) -> Any:
    from pyspark.ml.functions import predict_batch_udf
    from pyspark.sql.types import ArrayType, FloatType, StructField, StructType

    model_dir = spec["model_dir"]

    def make_predict_fn() -> Any:
        import numpy as np
        import onnxruntime as ort
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(f"{model_dir}/tokenizer.json")
        tok.enable_truncation(MAX_LENGTH)
        tok.enable_padding(length=MAX_LENGTH, pad_id=tok.token_to_id("[PAD]"), pad_token="[PAD]")
        sess = ort.InferenceSession(f"{model_dir}/model.onnx", providers=["CPUExecutionProvider"])

        def predict(texts: Any) -> Any:
            encs = tok.encode_batch([str(t) for t in texts])
            ids = np.array([e.ids for e in encs], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encs], dtype=np.int64)
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            (hidden,) = sess.run(["last_hidden_state"], feed)
            lengths = mask.sum(axis=1)
            return [{"embeddings": hidden[i, : lengths[i]].ravel()} for i in range(len(encs))]

        return predict

    udf = predict_batch_udf(
        make_predict_fn,
        return_type=StructType([StructField("embeddings", ArrayType(FloatType()))]),
        batch_size=PREDICT_BATCH_SIZE,
    )
    return udf("text")


def _transformers_column(spec: dict[str, Any]) -> Any:
    from pyspark.sql.functions import pandas_udf  # type: ignore[attr-defined]
    from pyspark.sql.types import ArrayType, FloatType

    checkpoint = spec["checkpoint"]

    @pandas_udf(ArrayType(FloatType()))  # type: ignore[call-overload, untyped-decorator]
    def embed(texts: pd.Series) -> pd.Series:
        import torch

        from benchmarks.contenders import _hf_model

        tokenizer, model = _hf_model(checkpoint)
        out: list[Any] = []
        values = [str(t) for t in texts]
        for i in range(0, len(values), HF_BATCH_SIZE):
            enc = tokenizer(
                values[i : i + HF_BATCH_SIZE],
                padding=True,
                truncation=True,
                max_length=MAX_LENGTH,
                return_tensors="pt",
            )
            with torch.inference_mode():
                hidden = model(**enc).last_hidden_state
            for j, n in enumerate(enc["attention_mask"].sum(dim=1).tolist()):
                out.append(hidden[j, :n].reshape(-1).numpy())
        return pd.Series(out)

    return embed("text")


_HF: dict[str, Any] = {}


def _hf_model(checkpoint: str) -> Any:
    """Tokenizer and BertModel, loaded once per Python worker (as users cache them)."""
    if checkpoint not in _HF:
        from transformers import AutoTokenizer, BertModel

        _HF[checkpoint] = (
            AutoTokenizer.from_pretrained(checkpoint),
            BertModel.from_pretrained(checkpoint).eval(),  # type: ignore[no-untyped-call]
        )
    return _HF[checkpoint]


def run_spark(spec: dict[str, Any]) -> dict[str, Any]:
    from pyspark.sql import functions as F

    texts = _texts(spec)
    conf = {"spark.sql.execution.arrow.maxRecordsPerBatch": str(spec.get("arrow_records", 10000))}
    t0 = now()
    spark = start_spark(spec.get("master", "local[*]"), conf)
    cores = spark.sparkContext.defaultParallelism
    partitions = spec.get("partitions") or 2 * cores
    df = _input_df(spark, texts, partitions)
    startup = now() - t0
    # a trivial Python job: starts Spark's Python daemon, so the session is warm
    df.limit(2).mapInArrow(lambda it: it, df.schema).collect()
    if spec.get("library_src"):
        _check_library(spark, spec["library_src"])
    result: dict[str, Any] = {"spark_startup_s": round(startup, 2), "partitions": partitions, "cores": cores}
    kind = spec["contender"]
    warm_texts = texts[: max(spec.get("warmup_rows", 16), 2 * cores)]
    warm = spark.createDataFrame(list(enumerate(warm_texts)), "id long, text string").repartition(cores)

    if kind == "sparkbert" and spec.get("text_stages_only"):
        pipeline = _sparkbert_pipeline(spec)
        t = now()
        rows = _transform(pipeline, warm, spec).select("token").collect()
        assert len(rows) == len(warm_texts)
        result["model_load_s"] = round(now() - t, 2)
        out, column = _transform(pipeline, df, spec), "token"
    elif kind == "sparkbert":
        pipeline = _sparkbert_pipeline(spec)
        result["batch_size"] = pipeline.stages[-1].getBatchSize()
        from sparkbert.model.directory import open_model_directory

        dim = open_model_directory(spec["model_dir"]).hidden_size
        if spec.get("first_embedding", True):
            # a new stage object, as a user would build it, on one sentence; the model loads in a worker
            t = now()
            pipeline = _sparkbert_pipeline(spec)
            one = spark.createDataFrame([(0, texts[0])], "id long, text string")
            first = _transform(pipeline, one, spec).select("token", "embeddings").collect()
            result["first_embedding_s"] = round(now() - t, 2)
            t = now()
            _transform(pipeline, one, spec).select("embeddings").collect()
            result["first_embedding_again_s"] = round(now() - t, 2)
            _check_sparkbert(first, dim)
        t = now()
        rows = _transform(pipeline, warm, spec).select("token", "embeddings").collect()
        _check_sparkbert(rows, dim)
        result["model_load_s"] = round(now() - t, 2)
        out, column = _transform(pipeline, df, spec), "embeddings"
        if spec.get("replay"):
            out = _replayed(out, df, Path(spec["replay"]))
    else:
        t = now()
        column_expr = (
            _predict_batch_udf_column(spec) if kind == "predict_batch_udf" else _transformers_column(spec)
        )
        rows = warm.select(column_expr.alias("out")).collect()
        assert len(rows) == len(warm_texts)
        result["model_load_s"] = round(now() - t, 2)
        out, column = df.select("id", column_expr.alias("out")), "out"

    for _ in range(int(spec.get("warm_passes", 0))):  # whole passes first: the JVM's JIT settles
        _force(out, column)
    sampler = Sampler(memory_interval=spec.get("memory_interval_s", 2.0)).start()
    t = now()
    _force(out, column)
    elapsed = now() - t
    result.update(sampler.stop())
    result["elapsed_s"] = round(elapsed, 2)
    if kind == "sparkbert" and spec.get("count_tokens"):
        result["tokens_embedded"] = out.select(F.sum(F.size("embeddings"))).collect()[0][0]
    spark.stop()
    return result


# ---- the ceiling ------------------------------------------------------------------------------
def _raw_model(spec: dict[str, Any]) -> tuple[Any, Any, Any, int, float]:
    """Tokenizer, control ids, ONNX Runtime session, its threads and load time of a raw ORT contender."""
    from sparkbert.runtime.session import SessionOptions, create_session, default_intra_op_threads
    from sparkbert.runtime.tokenization import load_tokenizer, special_ids

    model_dir = Path(spec["model_dir"])
    threads = spec.get("intra_op_threads") or default_intra_op_threads(1)
    t = now()
    tok = load_tokenizer(model_dir / "tokenizer.json")
    session = create_session(
        str(model_dir / "model.onnx"),
        SessionOptions(intra_op_threads=threads, allow_spinning=bool(spec.get("allow_spinning", False))),
    )
    return tok, special_ids(tok), session, threads, now() - t


def run_ceiling(spec: dict[str, Any]) -> dict[str, Any]:
    if spec.get("batch_sizes"):
        return run_ceiling_sweep(spec)
    import numpy as np

    from sparkbert.runtime.alignment import plan_windows
    from sparkbert.runtime.batching import make_batches, pad_batch
    from sparkbert.runtime.tokenization import encode

    texts = _texts(spec)
    tok, ids, session, threads, load = _raw_model(spec)
    t = now()
    sequences = []
    content = spec.get("max_sentence_length", 128) - 2
    for enc in encode(tok, texts):
        for start, end in plan_windows(len(enc), content) if len(enc) else []:
            sequences.append(np.concatenate([[ids.cls], enc.ids[start:end], [ids.sep]]).astype(np.int64))
    tokenize = now() - t
    lengths = [len(s) for s in sequences]
    batch_size = spec.get("batch_size") or 8
    batches = make_batches(lengths, batch_size=batch_size, token_budget=spec.get("token_budget") or 8192)

    def run(batch: list[int]) -> np.ndarray:
        i, m, tt = pad_batch([sequences[j] for j in batch], ids.pad)
        (hidden,) = session.run(
            ["last_hidden_state"], {"input_ids": i, "attention_mask": m, "token_type_ids": tt}
        )
        return np.asarray(hidden)

    t = now()
    for b in batches[:: max(1, len(batches) // 4)][:4]:  # warm-up: a few batches of every size
        run(b)
    warmup = now() - t
    sampler = Sampler(memory_interval=spec.get("memory_interval_s", 2.0)).start()
    t = now()
    checksum = 0.0
    for b in batches:
        hidden = run(b)
        checksum += float(hidden[0, 0, 0])
    elapsed = now() - t
    result = sampler.stop()
    result.update(
        {
            "elapsed_s": round(elapsed, 2),
            "model_load_s": round(load, 2),
            "warmup_s": round(warmup, 2),
            "tokenize_s": round(tokenize, 2),
            "intra_op_threads": threads,
            "batch_size": batch_size,
            "batches": len(batches),
            "padded_tokens": int(sum(max(lengths[j] for j in b) * len(b) for b in batches)),
        }
    )
    import psutil

    mem = psutil.Process().memory_full_info()
    result["process_rss_mib"] = round(mem.rss / 2**20)
    result["process_pss_mib"] = round(mem.pss / 2**20)
    return result


def run_ceiling_sweep(spec: dict[str, Any]) -> dict[str, Any]:
    """Raw ONNX Runtime at several batch sizes on whole sentences, then windowed at the fastest.

    ``sentences_file`` holds the sentences themselves (one per line, as the SentenceDetector
    found them). Whole: ``[CLS] pieces [SEP]``; a sentence over the model's position limit runs
    as consecutive chunks of that limit, without overlap, so every piece runs exactly once.
    Windowed: the windows sparkbert cuts at ``max_sentence_length``. Batches are globally
    length-sorted (``make_batches``) and padded to their own longest row (``pad_batch``); the
    token budget is ``token_budget`` (default: none, the batch size alone decides). Each timing
    follows a warm-up on a few batches of that batch size. ``windowed: False`` skips the windows.
    """
    import numpy as np

    from sparkbert.runtime.alignment import plan_windows
    from sparkbert.runtime.batching import make_batches, pad_batch
    from sparkbert.runtime.tokenization import encode

    texts = _texts(spec)
    from sparkbert.model.directory import open_model_directory

    limit = int(spec.get("max_positions") or open_model_directory(spec["model_dir"]).max_positions)
    tok, ids, session, threads, load = _raw_model(spec)
    t = now()
    encodings = [e for e in encode(tok, texts) if len(e)]
    tokenize = now() - t
    cls, sep = np.array([ids.cls], np.int64), np.array([ids.sep], np.int64)
    whole = whole_sequences(encodings, limit, ids.cls, ids.sep)
    content = int(spec.get("max_sentence_length", 128)) - 2
    windowed = [
        np.concatenate([cls, e.ids[start:end], sep]).astype(np.int64)
        for e in encodings
        for start, end in plan_windows(len(e), content)
    ]

    def run(sequences: list[np.ndarray], batch: list[int]) -> np.ndarray:
        i, m, tt = pad_batch([sequences[j] for j in batch], ids.pad)
        (hidden,) = session.run(
            ["last_hidden_state"], {"input_ids": i, "attention_mask": m, "token_type_ids": tt}
        )
        return np.asarray(hidden)

    def timed(sequences: list[np.ndarray], batch_size: int) -> dict[str, Any]:
        lengths = [len(s) for s in sequences]
        budget = spec.get("token_budget") or batch_size * max(lengths)
        batches = make_batches(lengths, batch_size=batch_size, token_budget=budget)
        t = now()
        for b in batches[:: max(1, len(batches) // 4)][:4]:  # warm-up: a few batches of every length
            run(sequences, b)
        warmup = now() - t
        # the sampler gives the machine's busy CPU time (other load); its thread, sampling this one
        # process every 2 s, costs a few ms
        sampler = Sampler(memory_interval=spec.get("memory_interval_s", 2.0)).start()
        c, t = time.process_time(), now()
        checksum = 0.0
        for b in batches:
            checksum += float(run(sequences, b)[0, 0, 0])
        elapsed, cpu = now() - t, time.process_time() - c  # all of this process's threads
        sampled = sampler.stop()
        return {
            "batch_size": batch_size,
            "elapsed_s": round(elapsed, 3),
            "cpu_s": round(cpu, 3),
            "machine_busy_cpu_s": sampled["machine_busy_cpu_s"],
            "others_cpu_s": round(max(0.0, sampled["machine_busy_cpu_s"] - cpu), 2),
            "warmup_s": round(warmup, 2),
            "sequences": len(sequences),
            "batches": len(batches),
            "real_tokens": int(sum(lengths)),
            "padded_tokens": int(sum(max(lengths[j] for j in b) * len(b) for b in batches)),
            "checksum": checksum,
        }

    sweep = [timed(whole, int(bs)) for bs in spec["batch_sizes"]]
    best = min(sweep, key=lambda r: r["elapsed_s"])
    result: dict[str, Any] = {
        "elapsed_s": best["elapsed_s"],
        "cpu_s": best["cpu_s"],
        "best_batch_size": best["batch_size"],
        "sweep": sweep,
    }
    if spec.get("windowed", True):  # a repeated round of --fp32 runs whole sentences only
        # no sentence over max_sentence_length: the windowed sequences are the whole ones
        result["windowed"] = (
            timed(windowed, best["batch_size"])
            if len(windowed) != len(whole)
            else best | {"same_as_whole": True}
        )
    result |= {
        "model_load_s": round(load, 2),
        "tokenize_s": round(tokenize, 2),
        "intra_op_threads": threads,
        "position_limit": limit,
        "max_sentence_length": content + 2,
        "token_budget": spec.get("token_budget"),
        "sentences_embedded": len(encodings),
        "pieces_encoded": int(sum(len(e) for e in encodings)),
        "sentences_chunked": sum(1 for e in encodings if len(e) > limit - 2),
        "sentences_windowed": sum(1 for e in encodings if len(e) > content),
    }
    import psutil

    mem = psutil.Process().memory_full_info()
    result["process_rss_mib"] = round(mem.rss / 2**20)
    result["process_pss_mib"] = round(mem.pss / 2**20)
    return result


# ---- the tokenizer alone ----------------------------------------------------------------------
def run_encode_batch(spec: dict[str, Any]) -> dict[str, Any]:
    """Hugging Face ``tokenizers`` ``encode_batch`` on the same rows, in one process: the host floor."""
    from tokenizers import Tokenizer

    texts = _texts(spec)
    t = now()
    tok = Tokenizer.from_file(str(Path(spec["model_dir"]) / "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()
    load = now() - t
    tok.encode_batch(texts[:64])  # warm-up
    for _ in range(int(spec.get("warm_passes", 0))):
        tok.encode_batch(texts, add_special_tokens=False)
    c, t = time.process_time(), now()
    encodings = tok.encode_batch(texts, add_special_tokens=False)
    elapsed, cpu = now() - t, time.process_time() - c
    return {
        "elapsed_s": round(elapsed, 3),
        "cpu_s": round(cpu, 3),
        "model_load_s": round(load, 2),
        "pieces_encoded": sum(len(e.ids) for e in encodings),
    }


RUNNERS = {"ceiling": run_ceiling, "encode_batch": run_encode_batch}


def _check_library(spark: Any, src: str) -> None:
    """Refuse to measure unless the driver and a Python worker both import sparkbert from ``src``."""
    import sparkbert

    def where(batches: Any) -> Any:
        import pyarrow as pa

        import sparkbert

        for _ in batches:
            pass
        yield pa.RecordBatch.from_pydict({"file": [sparkbert.__file__]})

    files = {sparkbert.__file__, *(r.file for r in spark.range(1).mapInArrow(where, "file string").collect())}
    wrong = [f for f in files if not Path(f).resolve().is_relative_to(Path(src).resolve())]
    if wrong:
        raise RuntimeError(f"library_src {src!r} asked for, but sparkbert was imported from {wrong}")


def main(argv: list[str]) -> None:
    spec = json.loads(Path(argv[0]).read_text())
    started = time.time()
    result = RUNNERS.get(spec["contender"], run_spark)(spec)
    result["process_wall_s"] = round(time.time() - started, 2)
    Path(argv[1]).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])

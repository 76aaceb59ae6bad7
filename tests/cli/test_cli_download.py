"""`sparkbert download` fills a cache that works on a machine without network, wherever it is copied.

Against the local Hub server (a real HTTP server, the real huggingface_hub): download a Hub repo
id and the registry's multilingual model (served at its pinned commit), stop the Hub, copy the
cache to another folder, delete the original, then run a pipeline offline from the copy through
the command line and through ``BertEmbeddings.pretrained``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from tests.cli.runner import FAST_JVM, run_cli
from tests.helpers.hub_server import FakeHub

from sparkbert.model import registry

pytestmark = [pytest.mark.spark, pytest.mark.slow]

REPO = "test-org/tiny-bert"
MBERT = registry.lookup("bert_base_multilingual_cased")
MBERT_INT8 = ("bert_base_multilingual_cased", "--precision", "int8")


@pytest.fixture(scope="module")
def airgapped(
    tiny_checkpoint: tuple[Path, object], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """Download on the "online" side, then hand over only a copy of the cache."""
    work = tmp_path_factory.mktemp("download")
    online = work / "online-cache"
    with FakeHub() as hub:
        commit = hub.add_repo(REPO, tiny_checkpoint[0])
        hub.add_repo(MBERT.repo_id, tiny_checkpoint[0], commit=MBERT.revision)
        env = {"HF_HUB_OFFLINE": "0", "HF_ENDPOINT": hub.endpoint, "HF_HUB_CACHE": str(work / "hf")}
        results = [
            run_cli("download", REPO, "--cache-dir", str(online), "--json", cwd=work, **env),
            run_cli("download", *MBERT_INT8, "--cache-dir", str(online), cwd=work, **env),
        ]
    for result in results:
        assert result.returncode == 0, result.stderr
    copy = work / "elsewhere" / "sparkbert-cache"
    shutil.copytree(online, copy)
    shutil.rmtree(online)
    shutil.rmtree(work / "hf", ignore_errors=True)
    return {"work": work, "copy": copy, "commit": commit, "facts": json.loads(results[0].stdout)}


def test_download_prints_what_it_cached(airgapped: dict[str, Any]) -> None:
    facts = airgapped["facts"]
    assert facts["source"] == REPO and facts["revision"] == airgapped["commit"]
    assert facts["precision"] == "fp32" and facts["dimension"] == 32
    refs = airgapped["copy"] / "models" / "test-org--tiny-bert" / "refs" / "main"
    assert refs.read_text() == airgapped["commit"]


def test_repo_id_without_revision_resolves_offline_to_the_download(airgapped: dict[str, Any]) -> None:
    info = run_cli("info", REPO, "--json", cwd=airgapped["work"], SPARKBERT_HOME=str(airgapped["copy"]))
    assert info.returncode == 0, info.stderr
    facts = json.loads(info.stdout)
    assert facts["revision"] == airgapped["commit"]
    assert Path(facts["path"]).is_relative_to(airgapped["copy"])


def test_embed_offline_from_the_copied_cache(airgapped: dict[str, Any]) -> None:
    work = airgapped["work"]
    (work / "in.txt").write_text("Hello world.\nDer schnelle braune Fuchs.\n", encoding="utf-8")
    result = run_cli(
        "embed", "--input", "in.txt", "--output", "out", "--model", REPO, "--master", "local[1]",
        *FAST_JVM, cwd=work, SPARKBERT_HOME=str(airgapped["copy"]), HF_ENDPOINT="http://127.0.0.1:9",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    table = pd.read_parquet(work / "out").sort_values("id")
    assert [list(t) for t in table.tokens] == [
        ["Hello", "world", "."],
        ["Der", "schnelle", "braune", "Fuchs", "."],
    ]
    assert all(len(v) == 32 for vectors in table.vectors for v in vectors)


def test_pretrained_registry_name_offline_from_the_copied_cache(
    airgapped: dict[str, Any], spark: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pyspark.ml import Pipeline

    from sparkbert import BertEmbeddings, DocumentAssembler, EmbeddingsFinisher, SentenceDetector, Tokenizer

    monkeypatch.setenv("SPARKBERT_HOME", str(airgapped["copy"]))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    embeddings = BertEmbeddings.pretrained("bert_base_multilingual_cased", "xx", precision="int8")
    pipeline = Pipeline(
        stages=[
            DocumentAssembler().setInputCol("text").setOutputCol("document"),
            SentenceDetector().setInputCols("document").setOutputCol("sentence"),
            Tokenizer().setInputCols("sentence").setOutputCol("token"),
            embeddings.setInputCols("sentence", "token").setOutputCol("embeddings"),
            EmbeddingsFinisher().setInputCols("embeddings").setOutputCols("vectors"),
        ]
    )
    df = spark.createDataFrame([("Bonjour le monde.",)], ["text"])
    row = pipeline.fit(df).transform(df).select("token.result", "vectors").first()
    assert row.result == ["Bonjour", "le", "monde", "."]
    assert len(row.vectors) == 4 and all(len(v) == 32 for v in row.vectors)

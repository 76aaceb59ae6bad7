"""Mistakes a user makes end with one `sparkbert: error: ...` line and a non-zero exit, no stack trace.

Each case is caught before Spark starts (no JVM is launched); a corrupt Parquet input is found
by reading its footer first, and the test also checks that nothing of the JVM reaches stderr.
Also `convert` and `info` on the tiny checkpoint.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from tests.cli.runner import FAST_JVM, assert_one_error_line, run_cli

from sparkbert.model import registry

MBERT = registry.lookup("bert_base_multilingual_cased")


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cli-errors")
    (folder / "in.txt").write_text("Hello world.\n")
    (folder / "in.jsonl").write_text('{"id": 1, "body": "Hello world."}\n')
    (folder / "notes.docx").write_text("?")
    (folder / "a-file").write_text("")
    (folder / "empty").mkdir()
    (folder / "taken").mkdir()
    return folder


CASES = {
    "missing input": (["embed", "--input", "missing.txt", "--output", "out"], ["missing.txt does not exist"], 1),
    "unknown model": (["embed", "--input", "in.txt", "--output", "out", "--model", "bert_tiny_nope"], ["Unknown pretrained model 'bert_tiny_nope'", "bert_base_multilingual_cased"], 1),
    "output inside a file": (["embed", "--input", "in.txt", "--output", "a-file/out", "--model", "{model}"], ["Cannot write the output a-file/out", "is a file"], 1),
    "output exists": (["embed", "--input", "in.txt", "--output", "taken", "--model", "{model}"], ["taken already exists", "--overwrite"], 1),
    "bad precision": (["embed", "--input", "in.txt", "--output", "out", "--precision", "int4"], ["--precision", "'int4'", "'fp32', 'int8', 'fp16'"], 2),
    "bad device": (["embed", "--input", "in.txt", "--output", "out", "--device", "tpu"], ["--device", "'tpu'", "'auto', 'cpu', 'cuda'"], 2),
    "unknown flag after a subcommand": (["embed", "--input", "in.txt", "--output", "out", "--bogus"], ["unrecognized arguments: --bogus", "'sparkbert embed --help'"], 2),
    "registry model offline, not cached": (["info", "bert_base_multilingual_cased"], ["HF_HUB_OFFLINE=1", "'bert_base_multilingual_cased'", MBERT.revision, "`sparkbert download bert_base_multilingual_cased`"], 1),
    "embed a registry model offline, not cached": (["embed", "--input", "in.txt", "--output", "out", "--precision", "int8"], ["HF_HUB_OFFLINE=1", MBERT.repo_id, "`sparkbert download bert_base_multilingual_cased --precision int8`"], 1),
    "download a local folder": (["download", "./my-checkpoint"], ["takes a registry name or a Hub repo id", "sparkbert convert"], 2),
    "download while offline": (["download", "org/model"], ["needs the network", "HF_HUB_OFFLINE"], 1),
    "bad batch size": (["embed", "--input", "in.txt", "--output", "out", "--batch-size", "0"], ["--batch-size", "'0'"], 2),
    "sentence length over the model's": (["embed", "--input", "in.txt", "--output", "out", "--model", "{model}", "--max-sentence-length", "600"], ["600", "512"], 2),
    "separator of two characters": (["embed", "--input", "in.txt", "--output", "out", "--separator", ";;"], ["--separator", "';;'", "one character"], 2),
    "separator for a text input": (["embed", "--input", "in.txt", "--output", "out", "--separator", ";"], ["--separator ';'", "CSV and TSV", "read as txt"], 2),
    "unknown input format": (["embed", "--input", "notes.docx", "--output", "out"], ["Cannot tell the format", "--input-format"], 2),
    "empty input folder": (["embed", "--input", "empty", "--output", "out"], ["holds no input files"], 1),
    "no command": ([], ["a command is needed"], 2),
    "demo with a missing model folder": (["demo", "--model", "./no/such/model"], ["No such folder"], 1),
    "convert a missing checkpoint": (["convert", "no-checkpoint", "converted"], ["No checkpoint folder at no-checkpoint"], 1),
    "info of a missing model": (["info", "./nowhere"], ["No such folder"], 1),
}  # fmt: skip


@pytest.mark.parametrize("case", list(CASES))
def test_user_errors_end_with_one_line(case: str, work: Path, tiny_model_dir: Path) -> None:
    args, phrases, code = CASES[case]
    result = run_cli(*(a.replace("{model}", str(tiny_model_dir)) for a in args), cwd=work)
    assert_one_error_line(result, *phrases, code=code)
    assert not (work / "out").exists()


@pytest.mark.parametrize(
    ("env", "phrase"),
    [
        ({"JAVA_HOME": "", "PATH": "/nonexistent"}, "no java on PATH"),
        ({"JAVA_HOME": "/opt/no-java"}, "JAVA_HOME is /opt/no-java"),
    ],
    ids=["no java anywhere", "JAVA_HOME without java"],
)
def test_missing_java_is_found_before_spark_starts(
    env: dict[str, str], phrase: str, work: Path, tiny_model_dir: Path
) -> None:
    for command in (["embed", "--input", "in.txt", "--output", "out"], ["demo"]):
        result = run_cli(*command, "--model", str(tiny_model_dir), cwd=work, **env)
        assert_one_error_line(result, phrase, "Java 17", code=1)


@pytest.mark.spark
@pytest.mark.slow
def test_corrupt_parquet_fails_with_one_line_not_a_jvm_trace(work: Path, tiny_model_dir: Path) -> None:
    (work / "broken.parquet").write_bytes(b"PAR1 this is not a parquet file PAR1")
    result = run_cli(
        "embed", "--input", "broken.parquet", "--output", "out", "--model", str(tiny_model_dir),
        "--master", "local[1]", *FAST_JVM, "-q", cwd=work,
    )  # fmt: skip
    stderr = [
        line for line in result.stderr.splitlines() if not line.startswith("WARNING: Using incubator modules")
    ]
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and "\tat " not in result.stderr
    assert len(stderr) == 1 and stderr[0].startswith("sparkbert: error: ") and "broken.parquet" in stderr[0]


def test_convert_then_info(tiny_checkpoint: tuple[Path, object], tmp_path: Path) -> None:
    checkpoint = tiny_checkpoint[0]
    result = run_cli("convert", str(checkpoint), "fp32", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "dimension:" in result.stdout and "model.onnx.data" in result.stdout
    result = run_cli("convert", str(checkpoint), "int8", "--precision", "int8", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["precision"] == "int8"

    info = run_cli("info", "fp32", "--json", cwd=tmp_path)
    assert info.returncode == 0, info.stderr
    facts = json.loads(info.stdout)
    assert (facts["dimension"], facts["layers"], facts["max_positions"], facts["precision"]) == (
        32,
        2,
        512,
        "fp32",
    )
    assert facts["cased"] is True and Path(facts["source"]).resolve() == checkpoint.resolve()
    assert facts["outdated"] is None and facts["graph_version"] >= 2
    assert (facts["model_type"], facts["sentence_vectors"]) == ("bert", "pooler (tanh dense on [CLS])")
    assert facts["sentence_window"] == 512  # no sentence-transformers max_seq_length: 512
    # sentence_head.safetensors: the checkpoint's pooler, kept for sentence vectors
    assert set(facts["files"]) == {
        "config.json",
        "model.onnx",
        "model.onnx.data",
        "tokenizer.json",
        "sentence_head.safetensors",
    }
    assert facts["size_bytes"] == sum(p.stat().st_size for p in (tmp_path / "fp32").iterdir())
    text = run_cli("info", "fp32", cwd=tmp_path).stdout
    assert "precision:         fp32" in text and "cased:             yes" in text

    assert_one_error_line(
        run_cli("info", str(checkpoint), cwd=tmp_path), "is a checkpoint folder", "sparkbert convert"
    )
    shutil.copytree(tmp_path / "fp32", tmp_path / "damaged")
    (tmp_path / "damaged" / "tokenizer.json").write_text("{}")
    assert_one_error_line(run_cli("info", "damaged", cwd=tmp_path), "tokenizer.json")


def test_version(tmp_path: Path) -> None:
    from sparkbert import __version__

    for flag in ("--version", "-V"):
        result = run_cli(flag, cwd=tmp_path)
        assert result.returncode == 0 and result.stdout.strip() == f"sparkbert {__version__}"


@pytest.mark.parametrize(
    ("args", "phrase"),
    [
        (
            ["--conf", "no-value", "--model", "bert_base_multilingual_cased"],
            "--conf takes KEY=VALUE, got 'no-value'",
        ),
        (["--input", "in.jsonl"], "has no column 'text' (columns: id, body); check --text-column"),
        (["--input", "in.jsonl", "--text-column", "body", "--id-column", "key"], "no column 'key'"),
    ],
    ids=["conf syntax", "text column", "id column"],
)
def test_conf_and_columns_are_checked_before_java_and_the_model(
    args: list[str], phrase: str, work: Path
) -> None:
    """With no Java and a registry model that is not cached, only these checks can speak."""
    result = run_cli("embed", "--output", "out", *(args if "--input" in args else ["--input", "in.txt", *args]),
                     cwd=work, JAVA_HOME="/opt/no-java")  # fmt: skip
    assert_one_error_line(result, phrase, code=2 if "conf" in phrase else 1)


def test_subcommand_help_shows_defaults(tmp_path: Path) -> None:
    embed = run_cli("embed", "--help", cwd=tmp_path).stdout
    for default in (
        "local[*]",
        "bert_base_multilingual_cased",
        "a model directory's own, else fp32",
        "auto",
        "parquet",
        "8",
        "128",
        "10.0",
    ):
        assert f"default: {default}" in " ".join(embed.split()), default
    download = " ".join(run_cli("download", "--help", cwd=tmp_path).stdout.split())
    assert "NAME_OR_REPO" in download and "(default: fp32)" in download

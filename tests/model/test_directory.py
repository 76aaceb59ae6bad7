"""Model directories: integrity and path-safety checks on load, atomic writes."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import onnx
import pytest
from tests.helpers.checkpoints import make_numpy_checkpoint

from sparkbert.errors import ModelIntegrityError, ModelNotFoundError, UnsafeModelError
from sparkbert.model.convert import convert_checkpoint
from sparkbert.model.directory import (
    MANIFEST_NAME,
    ModelDirectory,
    file_entry,
    is_checkpoint,
    is_model_directory,
    sha256_file,
    write_model_directory,
)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_numpy_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny", num_hidden_layers=1)


@pytest.fixture(scope="module")
def pristine(checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> ModelDirectory:
    return convert_checkpoint(checkpoint, tmp_path_factory.mktemp("model") / "tiny", source="org/tiny")


@pytest.fixture
def model(pristine: ModelDirectory, tmp_path: Path) -> Path:
    """A fresh copy to damage."""
    return Path(shutil.copytree(pristine.path, tmp_path / "model"))


def _edit_manifest(folder: Path, **changes: Any) -> None:
    manifest = json.loads((folder / MANIFEST_NAME).read_text())
    manifest.update(changes)
    (folder / MANIFEST_NAME).write_text(json.dumps(manifest))


def test_load_reads_the_manifest(pristine: ModelDirectory, checkpoint: Path) -> None:
    loaded = ModelDirectory.load(pristine.path)
    assert loaded.identity == hashlib.sha256((pristine.path / MANIFEST_NAME).read_bytes()).hexdigest()
    assert loaded.identity == pristine.identity
    assert (loaded.hidden_size, loaded.num_hidden_layers, loaded.max_positions) == (32, 1, 512)
    assert (loaded.precision, loaded.cased) == ("fp32", True)
    assert sorted(loaded.manifest["files"]) == [
        "config.json",
        "model.onnx",
        "model.onnx.data",
        "tokenizer.json",
    ]
    assert loaded.manifest["format"] == "sparkbert-model" and loaded.manifest["format_version"] == 1
    assert loaded.manifest["source"] == "org/tiny"
    assert loaded.onnx_path.is_file() and loaded.tokenizer_path.is_file() and loaded.config_path.is_file()
    assert is_model_directory(pristine.path) and not is_checkpoint(pristine.path)
    assert is_checkpoint(checkpoint) and not is_model_directory(checkpoint)


def test_missing_folder_or_manifest(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError):
        ModelDirectory.load(tmp_path / "nope")
    with pytest.raises(ModelNotFoundError, match="manifest.json"):
        ModelDirectory.load(tmp_path)


def test_missing_file_is_named(model: Path) -> None:
    (model / "tokenizer.json").unlink()
    with pytest.raises(ModelIntegrityError, match=r"tokenizer\.json.*missing"):
        ModelDirectory.load(model, verify=False)


def test_corrupted_byte_fails_sha256(model: Path) -> None:
    data = model / "model.onnx.data"
    with open(data, "r+b") as f:
        f.seek(1000)
        byte = f.read(1)
        f.seek(1000)
        f.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(ModelIntegrityError, match=r"model\.onnx\.data fails its sha256"):
        ModelDirectory.load(model)
    assert ModelDirectory.load(model, verify=False).precision == "fp32"  # sizes still match


def test_truncated_file_fails_even_without_verify(model: Path) -> None:
    with open(model / "model.onnx.data", "r+b") as f:
        f.truncate(100)
    with pytest.raises(ModelIntegrityError, match=r"model\.onnx\.data has 100 bytes"):
        ModelDirectory.load(model, verify=False)


@pytest.mark.parametrize("name", ["../config.json", "/etc/passwd", "sub/config.json", "..", "a\\b"])
def test_names_leaving_the_folder_are_unsafe(model: Path, name: str) -> None:
    manifest = json.loads((model / MANIFEST_NAME).read_text())
    manifest["files"][name] = manifest["files"]["config.json"]
    (model / MANIFEST_NAME).write_text(json.dumps(manifest))
    with pytest.raises(UnsafeModelError, match="not a plain file name"):
        ModelDirectory.load(model)


def test_symlink_outside_is_unsafe(model: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.json"
    shutil.copyfile(model / "config.json", outside)
    (model / "config.json").unlink()
    os.symlink(outside, model / "config.json")
    with pytest.raises(UnsafeModelError, match="outside the model directory"):
        ModelDirectory.load(model)


def test_external_data_leaving_the_folder_is_unsafe(model: Path) -> None:
    graph = onnx.load(str(model / "model.onnx"), load_external_data=False)
    for entry in graph.graph.initializer[0].external_data:
        if entry.key == "location":
            entry.value = "../model.onnx.data"
    (model / "model.onnx").write_bytes(graph.SerializeToString())
    manifest = json.loads((model / MANIFEST_NAME).read_text())
    manifest["files"]["model.onnx"] = file_entry(model / "model.onnx")
    (model / MANIFEST_NAME).write_text(json.dumps(manifest))
    with pytest.raises(UnsafeModelError, match="not a plain file name"):
        ModelDirectory.load(model)


def test_newer_format_version_is_refused(model: Path) -> None:
    _edit_manifest(model, format_version=2)
    with pytest.raises(ModelIntegrityError, match="format_version 2"):
        ModelDirectory.load(model)


def test_failed_write_leaves_nothing(tmp_path: Path) -> None:
    def populate(staging: Path) -> Mapping[str, Any]:
        (staging / "model.onnx").write_bytes(b"partial")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_model_directory(tmp_path / "out", populate)
    assert list(tmp_path.iterdir()) == []


def test_losing_the_race_uses_the_winner(pristine: ModelDirectory, tmp_path: Path) -> None:
    target = tmp_path / "out"

    def populate(staging: Path) -> Mapping[str, Any]:
        shutil.copytree(pristine.path, target)  # another process finishes first
        for name in ("model.onnx", "model.onnx.data", "tokenizer.json", "config.json"):
            shutil.copyfile(pristine.path / name, staging / name)
        (staging / "tokenizer.json").write_text("{}")  # ours differs
        return {k: v for k, v in pristine.manifest.items() if k not in {"files", "format", "format_version"}}

    result = write_model_directory(target, populate)
    assert result.identity == pristine.identity
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # our staging folder is gone


def test_concurrent_conversions_end_with_one_valid_directory(checkpoint: Path, tmp_path: Path) -> None:
    target = tmp_path / "shared" / "model"
    results: list[ModelDirectory] = []
    errors: list[BaseException] = []
    start = threading.Barrier(3)

    def convert() -> None:
        start.wait()
        try:
            results.append(convert_checkpoint(checkpoint, target))
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=convert) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len({r.identity for r in results}) == 1
    assert sorted(p.name for p in target.parent.iterdir()) == ["model"]
    assert ModelDirectory.load(target).identity == results[0].identity


def test_sha256_file_streams(tmp_path: Path) -> None:
    path = tmp_path / "blob"
    path.write_bytes(os.urandom(3 << 20))
    assert sha256_file(path) == hashlib.sha256(path.read_bytes()).hexdigest()

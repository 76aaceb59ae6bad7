"""``sparkbert convert`` (checkpoint → model directory) and ``sparkbert info`` (what one holds).

Both print the same facts about a model, as aligned text or, with ``--json``, as JSON.

Examples
--------
>>> print_facts({"precision": "int8", "size_bytes": 181000000, "cased": True}, as_json=False)
precision:         int8
size on disk:      172.6 MiB
cased:             yes
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sparkbert.cli._errors import CommandError

if TYPE_CHECKING:
    from sparkbert.model.directory import ModelDirectory


def model_facts(directory: ModelDirectory) -> dict[str, Any]:
    """What ``sparkbert info`` shows: provenance, shapes, precision, size and files of a model.

    Examples
    --------
    >>> import tempfile
    >>> from sparkbert.model.directory import ModelDirectory
    >>> folder = Path(tempfile.mkdtemp())
    >>> _ = (folder / "manifest.json").write_text("{}")
    >>> manifest = {"files": {"model.onnx": {"size": 1000}}, "precision": "fp32", "hidden_size": 384,
    ...             "num_hidden_layers": 6, "max_position_embeddings": 512, "cased": False}
    >>> facts = model_facts(ModelDirectory(folder, manifest, identity=""))
    >>> facts["dimension"], facts["layers"], facts["size_bytes"], facts["files"]
    (384, 6, 1002, {'model.onnx': 1000})
    >>> facts["outdated"]  # no graph version: written before there were any
    'graph version 1; this sparkbert writes version 2'
    """
    from sparkbert.model.format import graph_version, outdated
    from sparkbert.model.st_modules import MANIFEST_FIELD
    from sparkbert.runtime.sentence_encoder import describe_auto, sentence_window

    manifest = directory.manifest
    files = {name: int(entry["size"]) for name, entry in sorted(manifest["files"].items())}
    return {
        "path": str(directory.path.absolute()),
        "source": manifest.get("source"),
        "revision": manifest.get("revision"),
        "precision": directory.precision,
        "model_type": directory.manifest.get("model_type", "bert"),
        "dimension": directory.hidden_size,
        "layers": directory.num_hidden_layers,
        "attention_heads": manifest.get("num_attention_heads"),
        "max_positions": directory.max_positions,
        "vocab_size": manifest.get("vocab_size"),
        "cased": directory.cased,
        # what BertSentenceEmbeddings' poolingStrategy "auto" computes
        "sentence_vectors": describe_auto(manifest.get(MANIFEST_FIELD) or {}),
        # BertSentenceEmbeddings' window unless maxSentenceLength is set (pieces)
        "sentence_window": sentence_window(manifest.get(MANIFEST_FIELD) or {}, directory.max_positions),
        "sparkbert_version": manifest.get("sparkbert_version"),
        "graph_version": graph_version(manifest),
        # None, or why this sparkbert would convert the source differently (the cache does)
        "outdated": outdated(directory),
        "size_bytes": sum(files.values()) + (directory.path / "manifest.json").stat().st_size,
        "files": files,
    }


def _size(n: float) -> str:
    """Format a byte count.

    Examples
    --------
    >>> _size(512), _size(15436416)
    ('512 B', '14.7 MiB')
    """
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def print_facts(facts: Mapping[str, Any], as_json: bool) -> None:
    """Print ``model_facts`` as aligned ``label: value`` lines, or as JSON.

    Examples
    --------
    >>> print_facts({"dimension": 768, "revision": None, "files": {"model.onnx": 2048}}, as_json=False)
    dimension:         768
    revision:          -
    files:
      model.onnx             2.0 KiB
    >>> print_facts({"dimension": 768}, as_json=True)
    {
      "dimension": 768
    }
    """
    if as_json:
        print(json.dumps(facts, indent=2))
        return
    for key, value in facts.items():
        if key == "files":
            print("files:")
            for name, size in value.items():
                print(f"  {name:<20}{_size(size):>12}")
            continue
        shown = (
            _size(value)
            if key == "size_bytes"
            else f"{value:,} pieces"
            if key == "sentence_window"
            else ("yes" if value is True else "no" if value is False else value)
        )
        label = {"size_bytes": "size on disk", "max_positions": "max positions"}.get(
            key, key.replace("_", " ")
        )
        print(f"{label + ':':<19}{'-' if shown is None else shown}")


def cmd_convert(args: argparse.Namespace) -> int:
    """``sparkbert convert``: a Hugging Face checkpoint folder → a model directory."""
    from sparkbert.model.convert import convert_checkpoint

    directory = convert_checkpoint(args.checkpoint, args.out, precision=args.precision)
    print_facts(model_facts(directory), args.json)
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    """``sparkbert info``: describe a model directory (or a cached registry / Hub model).

    Examples
    --------
    >>> from sparkbert.cli import make_parser
    >>> cmd_info(make_parser().parse_args(["info", "./nowhere", "--json"]))
    Traceback (most recent call last):
    ...
    sparkbert.errors.ModelNotFoundError: No such folder: nowhere. ...
    """
    from sparkbert.model.directory import ModelDirectory, is_checkpoint, is_model_directory

    path = Path(args.model).expanduser()
    if path.exists():
        if path.is_dir() and not is_model_directory(path) and is_checkpoint(path):
            raise CommandError(
                f"{args.model} is a checkpoint folder, not a model directory; convert it with "
                f"'sparkbert convert {args.model} OUT'."
            )
        directory = ModelDirectory.load(path)
    else:
        from sparkbert.model.resolve import resolve_model

        directory = resolve_model(args.model, local_files_only=True)
    print_facts(model_facts(directory), args.json)
    return 0

"""``external_data_locations`` reads ONNX's wire format itself: checked against the ``onnx`` package.

Loading a model checks that every external-data location in its graph is a file the manifest
lists (tests/reliability/test_saved_model_security.py). The scan reads protobuf directly so
that workers need not import ``onnx``; here it must find what ``onnx`` finds, everywhere a
tensor can sit, and refuse what is not a protobuf message instead of reading past it.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from google.protobuf.message import Message
from onnx import TensorProto, helper, numpy_helper

from sparkbert.errors import ModelIntegrityError, UnsafeModelError
from sparkbert.model.format import ONNX_TENSOR_PATHS, check_external_data, external_data_locations


def test_the_field_numbers_are_onnx_s_own() -> None:
    for message, fields in ONNX_TENSOR_PATHS.items():
        descriptor = getattr(onnx, message).DESCRIPTOR
        for number, child in fields.items():
            field = descriptor.fields_by_number[number]
            assert field.message_type is not None and field.message_type.name == child, (message, number)
        # and no field that can lead to a tensor is missing
        leads = {
            f.number for f in descriptor.fields if f.message_type and f.message_type.name in ONNX_TENSOR_PATHS
        }
        leads |= {
            f.number for f in descriptor.fields if f.message_type and f.message_type.name == "TensorProto"
        }
        assert leads == set(fields), message
    tensor = TensorProto.DESCRIPTOR
    assert tensor.fields_by_name["name"].number == 8
    assert tensor.fields_by_name["external_data"].number == 13
    entry = onnx.StringStringEntryProto.DESCRIPTOR
    assert (entry.fields_by_name["key"].number, entry.fields_by_name["value"].number) == (1, 2)


def _every_tensor(message: Any) -> Iterator[Any]:
    """Every TensorProto inside ``message``, found by reflection over all its fields (the oracle)."""
    if message.DESCRIPTOR.name == "TensorProto":
        yield message
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        for item in [value] if isinstance(value, Message) else value:
            yield from _every_tensor(item)


def _onnx_locations(path: Path) -> list[tuple[str, str]]:
    model = onnx.load(str(path), load_external_data=False)
    return [(t.name, e.value) for t in _every_tensor(model) for e in t.external_data if e.key == "location"]


def _external(name: str, location: str, shape: tuple[int, ...] = (2,)) -> TensorProto:
    tensor = numpy_helper.from_array(np.zeros(shape, dtype=np.float32), name)
    tensor.ClearField("raw_data")
    tensor.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", str(4 * int(np.prod(shape))))):
        tensor.external_data.add(key=key, value=value)
    return tensor


def _everywhere() -> onnx.ModelProto:
    """External tensors in every place ``ONNX_TENSOR_PATHS`` names, a subgraph two levels deep."""
    inner = helper.make_graph(
        [helper.make_node("Identity", ["s"], ["o"])], "inner", [],
        [helper.make_tensor_value_info("o", TensorProto.FLOAT, [2])], initializer=[_external("s", "sub.bin")],
    )  # fmt: skip
    middle = helper.make_graph(
        [helper.make_node("If", ["c"], ["m"], then_branch=inner, else_branch=inner)], "middle", [],
        [helper.make_tensor_value_info("m", TensorProto.FLOAT, [2])],
    )  # fmt: skip
    sparse = helper.make_sparse_tensor(_external("sv", "sparse.bin"), _external("si", "index.bin"), [4])
    nodes = [
        helper.make_node("Constant", [], ["k"], value=_external("k", "const.bin")),
        helper.make_node("If", ["c"], ["y"], then_branch=middle, else_branch=middle),
        helper.make_node("Custom", [], ["z"], domain="x", ts=[_external("t1", "list.bin")], gs=[inner]),
        helper.make_node("Custom", [], ["w"], domain="x", st=sparse, sts=[sparse]),
    ]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("c", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])],
        initializer=[_external("w0", "model.onnx.data"), numpy_helper.from_array(np.ones(3, np.float32), "inline")],
        sparse_initializer=[sparse],
    )  # fmt: skip
    model = helper.make_model(graph)
    function = helper.make_function(
        "x", "f", [], ["q"], [helper.make_node("Constant", [], ["q"], value=_external("fk", "function.bin"))],
        [helper.make_opsetid("", 17)],
    )  # fmt: skip
    model.functions.append(function)
    training = model.training_info.add()
    training.initialization.CopyFrom(inner)
    return model


def test_finds_what_onnx_finds_everywhere(tmp_path: Path) -> None:
    path = tmp_path / "model.onnx"
    onnx.save(_everywhere(), str(path))
    found = external_data_locations(path)
    assert sorted(found) == sorted(_onnx_locations(path))
    assert {location for _, location in found} == {
        "sub.bin", "sparse.bin", "index.bin", "const.bin", "list.bin", "model.onnx.data", "function.bin",
    }  # fmt: skip
    with pytest.raises(UnsafeModelError, match="reads 'const.bin', not a listed file"):  # the first
        check_external_data(path, {"model.onnx.data": {}})


def test_every_location_entry_counts_and_a_real_model_reads_as_onnx_reads(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    real = tiny_model_dir / "model.onnx"
    assert sorted(external_data_locations(real)) == sorted(_onnx_locations(real)) != []
    model = onnx.load(str(real), load_external_data=False)
    tensor = model.graph.initializer[0]
    tensor.external_data.add(key="location", value="../second")  # protobuf keeps both entries
    tensor.data_location = TensorProto.DEFAULT  # and a runtime would not read either: still checked
    onnx.save(model, str(tmp_path / "model.onnx"))
    assert (tensor.name, "../second") in external_data_locations(tmp_path / "model.onnx")
    with pytest.raises(UnsafeModelError, match="not a plain file name"):
        check_external_data(tmp_path / "model.onnx", {"model.onnx.data": {}})


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b"\x3a\x10\x2a", "truncated"),  # a graph of 16 bytes, 1 there
        (b"\x3a\x02\x2a\x05", "truncated"),  # the initializer runs past its graph
        (b"\x3a\xff\xff\xff", "bad varint"),
        (b"\x3b\x00", "wire type 3"),  # a group
        (b"\x3a\x04\x2a\x02\x42\x01", "truncated"),
        (b"\x3a\x06\x2a\x04\x42\x02\xff\xfe", "not UTF-8"),
    ],
)
def test_what_is_not_protobuf_is_refused(tmp_path: Path, raw: bytes, why: str) -> None:
    path = tmp_path / "model.onnx"
    path.write_bytes(raw)
    with pytest.raises(ModelIntegrityError, match=why):
        external_data_locations(path)


def test_random_bytes_give_a_result_or_a_clear_error(tmp_path: Path) -> None:
    """Fuzz: mutated real models and random bytes never raise anything but ModelIntegrityError."""
    path = tmp_path / "model.onnx"
    onnx.save(_everywhere(), str(path))
    base = bytearray(path.read_bytes())
    rng = random.Random(7)
    agreed = 0
    for i in range(400):
        data = bytearray(base) if i % 2 else bytearray(rng.randbytes(rng.randint(0, 64)))
        for _ in range(rng.randint(1, 4)):
            if data:
                data[rng.randrange(len(data))] = rng.randrange(256)
        path.write_bytes(bytes(data))
        try:
            found = external_data_locations(path)
        except ModelIntegrityError:
            continue
        try:
            expected = _onnx_locations(path)
        except Exception:  # onnx refuses what the scan reads: the runtime would refuse it too
            continue
        assert sorted(found) == sorted(expected)
        agreed += 1
    assert agreed > 20

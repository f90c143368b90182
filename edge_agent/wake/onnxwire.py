"""A minimal, bounded reader of ONNX model files (the protobuf wire format, by hand).

It reads what `edge_agent.wake.npgraph` needs from a ModelProto — the opset imports and the
graph: nodes (op type, domain, inputs, outputs, attributes, including the subgraphs of an
`If`), initializers and Constant values (TensorProto: dims, data type, raw_data or float_data),
and the graph's inputs and outputs with their tensor types and shapes — and skips every other
field by its wire type.

Why by hand: the `protobuf` package in the venv has no ONNX schema (that lives in the `onnx`
package, which the daemon must not need), building the schema's descriptors at run time is as
much code, and importing protobuf's upb runtime costs ~2.7 MB RSS: more than running the wake
classifiers in numpy saves. The wire format is small: a key varint ``field << 3 | wire_type``,
then a varint (0), 8 bytes (1), a length-prefixed run (2) or 4 bytes (5).

A model file is hostile input. The reader refuses a file over `MAX_FILE_BYTES`, subgraphs
nested deeper than `MAX_GRAPH_DEPTH`, group wire types, varints over 10 bytes, lengths past
the end of their message, tensors whose raw_data does not fit their dims, and external or
segmented tensor data; each with `OnnxFormatError`. It never allocates more than the file's
size per field (every length is checked against the bytes that are there) and recurses only
through subgraphs (bounded by the depth cap). The file is mapped, not read into the heap: a
1.3 MB `bytes` freed at once would raise glibc's mmap threshold and leave later allocations
of that size in the heap for good.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import numpy as np

__all__ = [
    "MAX_FILE_BYTES",
    "MAX_GRAPH_DEPTH",
    "Attribute",
    "Graph",
    "Model",
    "Node",
    "OnnxFormatError",
    "Tensor",
    "ValueInfo",
    "parse_model",
    "read_model",
]

MAX_FILE_BYTES: Final = 16 * 1024 * 1024  # the shipped classifiers are 0.2-1.3 MB
MAX_GRAPH_DEPTH: Final = 4  # the main graph is depth 0; an If's branches depth 1
FLOAT: Final = 1  # TensorProto.DataType
BOOL: Final = 9
_FLOAT32 = np.dtype("<f4")


class OnnxFormatError(ValueError):
    """The file is not an ONNX model this reader can decode (corrupt, truncated or too big)."""


@dataclass(frozen=True, slots=True)
class Tensor:
    """A TensorProto: `data` is a float32 array when data_type is FLOAT, else None (the
    evaluator declines other types)."""

    name: str
    dims: tuple[int, ...]
    data_type: int
    data: np.ndarray | None


@dataclass(frozen=True, slots=True)
class Attribute:
    """An AttributeProto, its value by kind: f, i, s, t (Tensor), g (Graph), floats, ints."""

    name: str
    type: int
    f: float | None = None
    i: int | None = None
    s: bytes | None = None
    t: Tensor | None = None
    g: Graph | None = None
    floats: tuple[float, ...] = ()
    ints: tuple[int, ...] = ()
    other: bool = False  # strings, tensors, graphs, type or sparse protos: not read


@dataclass(frozen=True, slots=True)
class Node:
    op_type: str
    domain: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attributes: dict[str, Attribute]


@dataclass(frozen=True, slots=True)
class ValueInfo:
    """A graph input or output: `elem_type` 0 and `shape` None when it is not a tensor with a
    shape; a dim is an int, or a str (a symbolic dim_param) or None (unknown)."""

    name: str
    elem_type: int
    shape: tuple[int | str | None, ...] | None


@dataclass(frozen=True, slots=True)
class Graph:
    nodes: tuple[Node, ...]
    initializers: dict[str, Tensor]
    inputs: tuple[ValueInfo, ...]
    outputs: tuple[ValueInfo, ...]
    sparse_initializers: int = 0


@dataclass(frozen=True, slots=True)
class Model:
    ir_version: int
    opsets: dict[str, int]  # domain ("" is ai.onnx) -> version
    graph: Graph
    functions: int = 0  # local functions: counted, not read
    producer: str = field(default="")


# -- the wire format ---------------------------------------------------------------------------


def _varint(buf: memoryview, pos: int, end: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= end:
            raise OnnxFormatError("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise OnnxFormatError("varint longer than 10 bytes")


def _fields(buf: memoryview, pos: int, end: int) -> list[tuple[int, int, object]]:
    """The (field number, wire type, value) of one message: an int for wire types 0, 1 and 5
    (fixed ones as unsigned little-endian), a (start, end) span for 2."""
    out: list[tuple[int, int, object]] = []
    while pos < end:
        key, pos = _varint(buf, pos, end)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise OnnxFormatError("field number 0")
        value: object
        if wire == 0:
            value, pos = _varint(buf, pos, end)
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            if pos + size > end:
                raise OnnxFormatError("truncated fixed-width field")
            value = int.from_bytes(buf[pos : pos + size], "little")
            pos += size
        elif wire == 2:
            length, pos = _varint(buf, pos, end)
            if length > end - pos:
                raise OnnxFormatError("length-delimited field runs past its message")
            value = (pos, pos + length)
            pos += length
        else:
            raise OnnxFormatError(f"unsupported wire type {wire}")
        out.append((number, wire, value))
    return out


def _int64(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _span(value: object, wire: int) -> tuple[int, int]:
    if wire != 2 or not isinstance(value, tuple):
        raise OnnxFormatError("expected a length-delimited field")
    return value


def _str(buf: memoryview, value: object, wire: int) -> str:
    a, b = _span(value, wire)
    try:
        return bytes(buf[a:b]).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise OnnxFormatError("a string is not UTF-8") from exc


def _ints(buf: memoryview, value: object, wire: int) -> list[int]:
    """A repeated int64 field's element(s): one varint, or a packed run of them."""
    if wire == 0:
        assert isinstance(value, int)
        return [_int64(value)]
    a, b = _span(value, wire)
    out = []
    while a < b:
        v, a = _varint(buf, a, b)
        out.append(_int64(v))
    return out


def _floats(buf: memoryview, value: object, wire: int) -> list[float]:
    """A repeated float field's element(s): one fixed32, or a packed run of them."""
    if wire == 5:
        assert isinstance(value, int)
        return [struct.unpack("<f", value.to_bytes(4, "little"))[0]]
    a, b = _span(value, wire)
    if (b - a) % 4:
        raise OnnxFormatError("packed floats are not a multiple of 4 bytes")
    return list(struct.unpack(f"<{(b - a) // 4}f", buf[a:b]))


# -- ONNX messages -----------------------------------------------------------------------------


def _tensor(buf: memoryview, a: int, b: int) -> Tensor:
    name, dims, data_type = "", [], 0
    raw: tuple[int, int] | None = None
    floats: list[float] = []
    for number, wire, value in _fields(buf, a, b):
        if number == 1:
            dims += _ints(buf, value, wire)
        elif number == 2 and wire == 0:
            assert isinstance(value, int)
            data_type = value
        elif number == 3:
            raise OnnxFormatError("segmented tensors are not supported")
        elif number == 4:
            floats += _floats(buf, value, wire)
        elif number == 8:
            name = _str(buf, value, wire)
        elif number == 9:
            raw = _span(value, wire)
        elif number == 14 and value != 0:
            raise OnnxFormatError(f"tensor {name!r} keeps its data in an external file")
    if any(d < 0 for d in dims):
        raise OnnxFormatError(f"tensor {name!r} has a negative dim")
    count = int(np.prod(dims, dtype=np.int64)) if dims else 1
    data = None
    if data_type == FLOAT:
        if raw is not None:
            if raw[1] - raw[0] != 4 * count:
                raise OnnxFormatError(f"tensor {name!r}: raw_data does not fit dims {dims}")
            # a copy: aligned, owned, and the mapping can be closed
            data = np.frombuffer(buf[raw[0] : raw[1]], _FLOAT32).astype(np.float32)
        elif len(floats) == count:
            data = np.array(floats, np.float32)
        else:
            raise OnnxFormatError(f"tensor {name!r}: {len(floats)} floats for dims {dims}")
        data = data.reshape(dims)
    return Tensor(name, tuple(dims), data_type, data)


def _attribute(buf: memoryview, a: int, b: int, depth: int) -> Attribute:
    kw: dict[str, object] = {}
    name, kind, floats, ints, other = "", 0, [], [], False
    for number, wire, value in _fields(buf, a, b):
        if number == 1:
            name = _str(buf, value, wire)
        elif number == 20 and wire == 0:
            assert isinstance(value, int)
            kind = value
        elif number == 2 and wire == 5:
            kw["f"] = _floats(buf, value, wire)[0]
        elif number == 3 and wire == 0:
            assert isinstance(value, int)
            kw["i"] = _int64(value)
        elif number == 4:
            x, y = _span(value, wire)
            kw["s"] = bytes(buf[x:y])
        elif number == 5:
            kw["t"] = _tensor(buf, *_span(value, wire))
        elif number == 6:
            kw["g"] = _graph(buf, *_span(value, wire), depth + 1)
        elif number == 7:
            floats += _floats(buf, value, wire)
        elif number == 8:
            ints += _ints(buf, value, wire)
        elif number in (9, 10, 11, 14, 15, 21, 22, 23):
            other = True
    return Attribute(name, kind, floats=tuple(floats), ints=tuple(ints), other=other, **kw)  # type: ignore[arg-type]


def _node(buf: memoryview, a: int, b: int, depth: int) -> Node:
    op, domain, inputs, outputs = "", "", [], []
    attributes: dict[str, Attribute] = {}
    for number, wire, value in _fields(buf, a, b):
        if number == 1:
            inputs.append(_str(buf, value, wire))
        elif number == 2:
            outputs.append(_str(buf, value, wire))
        elif number == 4:
            op = _str(buf, value, wire)
        elif number == 5:
            attr = _attribute(buf, *_span(value, wire), depth)
            attributes[attr.name] = attr
        elif number == 7:
            domain = _str(buf, value, wire)
    return Node(op, domain, tuple(inputs), tuple(outputs), attributes)


def _shape(buf: memoryview, a: int, b: int) -> tuple[int | str | None, ...]:
    dims: list[int | str | None] = []
    for number, wire, value in _fields(buf, a, b):
        if number != 1:
            continue
        dim: int | str | None = None
        for n2, w2, v2 in _fields(buf, *_span(value, wire)):
            if n2 == 1 and w2 == 0:
                assert isinstance(v2, int)
                dim = _int64(v2)
            elif n2 == 2:
                dim = _str(buf, v2, w2)
        dims.append(dim)
    return tuple(dims)


def _value_info(buf: memoryview, a: int, b: int) -> ValueInfo:
    name, elem_type = "", 0
    shape: tuple[int | str | None, ...] | None = None
    for number, wire, value in _fields(buf, a, b):
        if number == 1:
            name = _str(buf, value, wire)
        elif number == 2:
            for n2, w2, v2 in _fields(buf, *_span(value, wire)):
                if n2 != 1:  # only tensor_type; sequences, maps, sparse... stay elem_type 0
                    continue
                for n3, w3, v3 in _fields(buf, *_span(v2, w2)):
                    if n3 == 1 and w3 == 0:
                        assert isinstance(v3, int)
                        elem_type = v3
                    elif n3 == 2:
                        shape = _shape(buf, *_span(v3, w3))
    return ValueInfo(name, elem_type, shape)


def _graph(buf: memoryview, a: int, b: int, depth: int) -> Graph:
    if depth > MAX_GRAPH_DEPTH:
        raise OnnxFormatError(f"subgraphs nested deeper than {MAX_GRAPH_DEPTH}")
    nodes, inputs, outputs = [], [], []
    initializers: dict[str, Tensor] = {}
    sparse = 0
    for number, wire, value in _fields(buf, a, b):
        if number == 1:
            nodes.append(_node(buf, *_span(value, wire), depth))
        elif number == 5:
            t = _tensor(buf, *_span(value, wire))
            initializers[t.name] = t
        elif number == 11:
            inputs.append(_value_info(buf, *_span(value, wire)))
        elif number == 12:
            outputs.append(_value_info(buf, *_span(value, wire)))
        elif number == 15:
            sparse += 1
    return Graph(tuple(nodes), initializers, tuple(inputs), tuple(outputs), sparse)


def parse_model(data: bytes | memoryview) -> Model:
    """A ModelProto from its bytes. Raises OnnxFormatError."""
    buf = memoryview(data)
    try:
        if len(buf) > MAX_FILE_BYTES:
            raise OnnxFormatError(f"{len(buf)} bytes: over the {MAX_FILE_BYTES}-byte cap")
        ir_version, functions, producer = 0, 0, ""
        opsets: dict[str, int] = {}
        graph: Graph | None = None
        for number, wire, value in _fields(buf, 0, len(buf)):
            if number == 1 and wire == 0:
                assert isinstance(value, int)
                ir_version = value
            elif number == 2:
                producer = _str(buf, value, wire)
            elif number == 7:
                graph = _graph(buf, *_span(value, wire), 0)
            elif number == 8:
                domain, version = "", 0
                for n2, w2, v2 in _fields(buf, *_span(value, wire)):
                    if n2 == 1:
                        domain = _str(buf, v2, w2)
                    elif n2 == 2 and w2 == 0:
                        assert isinstance(v2, int)
                        version = _int64(v2)
                opsets[domain] = version
            elif number == 25:
                functions += 1
        if graph is None:
            raise OnnxFormatError("no graph")
        return Model(ir_version, opsets, graph, functions, producer)
    finally:
        buf.release()


def read_model(path: Path) -> Model:
    """The model in the file at `path`, mapped (not read into the heap) while it is parsed.

    Raises:
        OSError: the file cannot be opened.
        OnnxFormatError: it is not a model this reader can decode, or over MAX_FILE_BYTES.
    """
    with open(path, "rb") as f:
        size = f.seek(0, 2)
        if size > MAX_FILE_BYTES:
            raise OnnxFormatError(f"{size} bytes: over the {MAX_FILE_BYTES}-byte cap")
        if size == 0:
            raise OnnxFormatError("empty file")
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            return parse_model(mapped)

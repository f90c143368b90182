"""A tiny ONNX encoder for tests: literal graphs as ModelProto bytes, without the onnx package.

Only what the tests build: tensors (raw_data or float_data), nodes with int/float/ints/tensor/
graph attributes, value infos with static or symbolic shapes, opset imports.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

import numpy as np

FLOAT, INT64, BOOL, FLOAT16 = 1, 7, 9, 10
_DTYPES = {np.dtype(np.float32): FLOAT, np.dtype(np.int64): INT64, np.dtype(np.float16): FLOAT16}


def varint(n: int) -> bytes:
    n &= (1 << 64) - 1  # negative int64: ten bytes, two's complement
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def key(field: int, wire: int) -> bytes:
    return varint(field << 3 | wire)


def ld(field: int, payload: bytes | str) -> bytes:
    data = payload.encode() if isinstance(payload, str) else payload
    return key(field, 2) + varint(len(data)) + data


def vi(field: int, n: int) -> bytes:
    return key(field, 0) + varint(n)


def tensor(name: str, array: np.ndarray, *, raw: bool = True) -> bytes:
    a = np.asarray(array)
    out = b"".join(vi(1, d) for d in a.shape) + vi(2, _DTYPES[a.dtype]) + ld(8, name)
    if raw:
        return out + ld(9, a.astype(a.dtype.newbyteorder("<")).tobytes())
    return out + ld(4, struct.pack(f"<{a.size}f", *a.ravel()))  # packed float_data


def attr(name: str, value: object) -> bytes:
    out = ld(1, name)
    if isinstance(value, int):  # bool too
        return out + vi(3, int(value)) + vi(20, 2)
    if isinstance(value, float):
        return out + key(2, 5) + struct.pack("<f", value) + vi(20, 1)
    if isinstance(value, list):
        return out + ld(8, b"".join(varint(v) for v in value)) + vi(20, 7)
    if isinstance(value, np.ndarray):
        return out + ld(5, tensor("", value)) + vi(20, 4)
    if isinstance(value, Graph):
        return out + ld(6, value.encode()) + vi(20, 5)
    raise TypeError(value)


def node(
    op: str, inputs: Sequence[str], outputs: Sequence[str], domain: str = "", **attrs: object
) -> bytes:
    out = b"".join(ld(1, i) for i in inputs) + b"".join(ld(2, o) for o in outputs) + ld(4, op)
    out += b"".join(ld(5, attr(k, v)) for k, v in attrs.items())
    return out + (ld(7, domain) if domain else b"")


def value_info(name: str, shape: Sequence[int | str] | None, elem_type: int = FLOAT) -> bytes:
    tensor_type = vi(1, elem_type)
    if shape is not None:
        dims = b"".join(ld(1, vi(1, d) if isinstance(d, int) else ld(2, d)) for d in shape)
        tensor_type += ld(2, dims)
    return ld(1, name) + ld(2, ld(1, tensor_type))


class Graph:
    def __init__(
        self,
        nodes: Sequence[bytes],
        inputs: Sequence[bytes] = (),
        outputs: Sequence[bytes] = (),
        initializers: dict[str, np.ndarray] | None = None,
        *,
        raw: bool = True,
    ) -> None:
        self.nodes, self.inputs, self.outputs = nodes, inputs, outputs
        self.initializers = initializers or {}
        self.raw = raw

    def encode(self) -> bytes:
        out = b"".join(ld(1, n) for n in self.nodes) + ld(2, "g")
        out += b"".join(ld(5, tensor(k, v, raw=self.raw)) for k, v in self.initializers.items())
        out += b"".join(ld(11, i) for i in self.inputs) + b"".join(ld(12, o) for o in self.outputs)
        return out


def model(graph: Graph, opset: int = 13, ir_version: int = 7, extra: bytes = b"") -> bytes:
    return vi(1, ir_version) + ld(2, "tests") + ld(7, graph.encode()) + ld(8, vi(2, opset)) + extra


def layernorm(x: str, out: str, weight: str, bias: str, tag: str) -> list[bytes]:
    """The LayerNorm PyTorch 1.12 exports for opset 13, op by op."""
    t = [f"{tag}.{i}" for i in range(10)]
    return [
        node("ReduceMean", [x], [t[0]], axes=[-1]),
        node("Sub", [x, t[0]], [t[1]]),
        node("Constant", [], [t[2]], value=np.array(2.0, np.float32)),
        node("Pow", [t[1], t[2]], [t[3]]),
        node("ReduceMean", [t[3]], [t[4]], axes=[-1]),
        node("Constant", [], [t[5]], value=np.array(1e-5, np.float32)),
        node("Add", [t[4], t[5]], [t[6]]),
        node("Sqrt", [t[6]], [t[7]]),
        node("Div", [t[1], t[7]], [t[8]]),
        node("Mul", [t[8], weight], [t[9]]),
        node("Add", [t[9], bias], [out]),
    ]

"""openWakeWord's wake-word classifiers run in numpy instead of an onnxruntime session.

The shipped classifiers (hey_jarvis, alexa, hey_mycroft, hey_rhasspy v0.1; opset 13 or 14,
exported from PyTorch) are small MLPs over the last 16 speech embeddings, (1, 16, 96) in and
(1, 1) out: Flatten, Gemm (transB), optionally a LayerNorm spelled out in ops (ReduceMean,
Sub, Pow 2, ReduceMean, Add eps, Sqrt, Div, Mul, Add), Relu, twice, then Gemm to one unit and
Sigmoid. hey_jarvis adds ``If(p1 >= 0.5)``: a second, 64-wide "verifier" net of the same shape
on the same input whose probability replaces p1. `NumpyGraph` evaluates exactly the 16 ops
those graphs use, node by node in float32 as onnxruntime does, and declines anything else
with `UnsupportedModel`, so that a caller can fall back to an onnxruntime session (a custom
model by path must work either way).

Why: an onnxruntime session holds memory beyond the weights (which numpy holds too), and this
saves it: 1.5 MB RSS with hey_jarvis, 2.0 MB with all four (bench/wake_numpy.py, after 200
steps), which is what brings a daemon that has served a turn under its 100 MB (docs/pipeline.md
"Idle memory"). The price is CPU: a classifier is ~30 numpy calls on 1 x 128 arrays at ~1 us
each, 0.074 ms per 80 ms step for hey_jarvis where onnxruntime takes 0.042 ms (x86-64; a
hand-written forward pass with a leaner LayerNorm still took 43 us per net): +0.04 % of a core.
The weights are copied out of the file once (float32, as onnxruntime holds them) and the file
is closed. A graph it declines runs in onnxruntime as before (`edge_agent.wake.oww`).

What is checked when a model is loaded, so a run cannot fail or silently broadcast:

- the default domain only, opset 13..17 (ReduceMean's axes became an input in 18), no local
  functions, no sparse initializers, every node's attributes known and in range;
- one graph input (float32, fully static shape), one output (float32), every value a node
  reads defined before it (outer scopes visible in an If's branches, as ONNX scopes them);
- dtypes and shapes: the plan is run once on zeros of the input's shape with *both* branches
  of every If, checking each op's input dtypes (float32; bool for If's condition) and ranks
  (Gemm's 2-D operands), that both branches give the same shape and dtype, and that the output
  has the declared shape. Every op here has shapes that depend on the input's shape only, not
  on its values, so that one run covers every later one.

Numerics: float32 throughout, as onnxruntime's CPU kernels; sums are in a different order
(OpenBLAS's sgemm and numpy's pairwise sum vs MLAS and onnxruntime's fused LayerNorm), so a
score differs by float32 rounding only (tests/wake/test_npgraph.py bounds it; over the eval
wakeset <= 7.1e-6 and the same detections, `bench/wake_numpy.py --scores`). Sigmoid is
``exp(-logaddexp(0, -x))``, which never overflows (within 1.3e-7 of the exact value;
onnxruntime's rational approximation clamps |x| at ~18).

A Gemm of 1 x 1536 x 128 is far below the size at which OpenBLAS wakes its worker threads
(see `edge_agent.wake.melspec`), so a step stays on the calling thread.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np

from edge_agent.wake.onnxwire import BOOL, FLOAT, Attribute, Graph, Node, read_model

__all__ = ["SUPPORTED_OPS", "NumpyGraph", "UnsupportedModel", "load_graph"]

OPSETS: Final = range(13, 18)
_F32: Final = np.dtype(np.float32)
_BOOL: Final = np.dtype(np.bool_)
_DTYPES: Final = {FLOAT: _F32, BOOL: _BOOL}

Op = Callable[..., np.ndarray]


class UnsupportedModel(ValueError):
    """The model uses an op, attribute, dtype, shape or structure `NumpyGraph` does not run."""


def _float_only(*xs: np.ndarray) -> None:
    if any(x.dtype != _F32 for x in xs):
        raise UnsupportedModel(f"inputs of dtype {[str(x.dtype) for x in xs]}: float32 only")


def _attrs(node: Node, known: dict[str, int]) -> dict[str, Attribute]:
    """The node's attributes, each checked against its AttributeProto type (1 FLOAT, 2 INT,
    4 TENSOR, 5 GRAPH, 7 INTS); an unknown one declines."""
    for name, attr in node.attributes.items():
        if name not in known:
            raise UnsupportedModel(f"{node.op_type}: attribute {name!r} is not supported")
        if attr.type != known[name] or attr.other:
            raise UnsupportedModel(f"{node.op_type}: attribute {name!r} has type {attr.type}")
    return node.attributes


def _int(attrs: dict[str, Attribute], name: str, default: int) -> int:
    a = attrs.get(name)
    return default if a is None or a.i is None else a.i


def _float(attrs: dict[str, Attribute], name: str, default: float) -> float:
    a = attrs.get(name)
    return default if a is None or a.f is None else a.f


# -- ops: each builder checks the node's attributes and returns fn(*inputs) -> output ----------


def _flatten(node: Node) -> Op:
    axis = _int(_attrs(node, {"axis": 2}), "axis", 1)

    def flatten(x: np.ndarray) -> np.ndarray:
        ax = axis + x.ndim if axis < 0 else axis
        if not 0 <= ax <= x.ndim:
            raise UnsupportedModel(f"Flatten axis {axis} of a rank-{x.ndim} input")
        return x.reshape(math.prod(x.shape[:ax]), math.prod(x.shape[ax:]))

    return flatten


def _gemm(node: Node) -> Op:
    attrs = _attrs(node, {"alpha": 1, "beta": 1, "transA": 2, "transB": 2})
    alpha, beta = np.float32(_float(attrs, "alpha", 1.0)), np.float32(_float(attrs, "beta", 1.0))
    trans_a, trans_b = _int(attrs, "transA", 0), _int(attrs, "transB", 0)
    if trans_a not in (0, 1) or trans_b not in (0, 1):
        raise UnsupportedModel("Gemm transA/transB must be 0 or 1")

    def gemm(a: np.ndarray, b: np.ndarray, c: np.ndarray | None = None) -> np.ndarray:
        y: np.ndarray = (a.T if trans_a else a) @ (b.T if trans_b else b)
        if alpha != 1:
            y *= alpha
        if c is not None:
            y += c if beta == 1 else beta * c
        return y

    if (trans_a, trans_b, alpha, beta) == (0, 1, 1, 1):  # what PyTorch's Linear exports

        def linear(a: np.ndarray, b: np.ndarray, c: np.ndarray | None = None) -> np.ndarray:
            y: np.ndarray = a @ b.T
            if c is not None:
                y += c
            return y

        return linear
    return gemm


def _reduce_mean(node: Node) -> Op:
    attrs = _attrs(node, {"axes": 7, "keepdims": 2})
    axes = attrs["axes"].ints if "axes" in attrs else None
    keepdims = bool(_int(attrs, "keepdims", 1))

    def reduce_mean(x: np.ndarray) -> np.ndarray:
        """The float32 sum divided by the count, as onnxruntime (np.mean's wrapper costs 2x)."""
        total = np.asarray(np.add.reduce(x, axis=axes, keepdims=keepdims))
        total /= np.float32(x.size // max(total.size, 1))
        return total

    return reduce_mean


def _binary(fn: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Callable[[Node], Op]:
    def build(node: Node) -> Op:
        _attrs(node, {})
        return fn

    return build


def _unary(fn: Callable[[np.ndarray], np.ndarray]) -> Callable[[Node], Op]:
    return _binary(fn)  # type: ignore[arg-type]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """``exp(-log(1 + exp(-x)))``: numpy's logaddexp never overflows, and it is two ufuncs
    (a `where` over both halves of a stable sigmoid costs 5x on a 1 x 1 input)."""
    out: np.ndarray = np.exp(-np.logaddexp(np.float32(0), -x))
    return out


def _relu(x: np.ndarray) -> np.ndarray:
    out: np.ndarray = np.maximum(x, np.float32(0))
    return out


def _cast(node: Node) -> Op:
    to = _int(_attrs(node, {"to": 2}), "to", 0)
    if to not in _DTYPES:
        raise UnsupportedModel(f"Cast to data type {to}: float and bool only")
    dtype = _DTYPES[to]
    return lambda x: x.astype(dtype)


def _identity(node: Node) -> Op:
    _attrs(node, {})
    return lambda x: x


_BUILDERS: Final[dict[str, Callable[[Node], Op]]] = {
    "Flatten": _flatten,
    "Gemm": _gemm,
    "ReduceMean": _reduce_mean,
    "Sub": _binary(np.subtract),
    "Add": _binary(np.add),
    "Mul": _binary(np.multiply),
    "Div": _binary(np.divide),
    "Pow": _binary(np.power),
    "Sqrt": _unary(np.sqrt),
    "Relu": _unary(_relu),
    "Sigmoid": _unary(_sigmoid),
    "GreaterOrEqual": _binary(np.greater_equal),
    "Cast": _cast,
    "Identity": _identity,
}
_ARITY: Final = {
    "Flatten": (1, 1), "Gemm": (2, 3), "ReduceMean": (1, 1), "Sub": (2, 2), "Add": (2, 2),
    "Mul": (2, 2), "Div": (2, 2), "Pow": (2, 2), "Sqrt": (1, 1), "Relu": (1, 1),
    "Sigmoid": (1, 1), "GreaterOrEqual": (2, 2), "Cast": (1, 1), "Identity": (1, 1),
    "If": (1, 1), "Constant": (0, 0),
}  # fmt: skip
SUPPORTED_OPS: Final = frozenset(_ARITY)


def _check(op: str, xs: Sequence[np.ndarray]) -> None:
    """The dtype and rank rules of `op` (run on the validating pass only)."""
    if op in ("Cast", "Identity"):
        if xs[0].dtype not in (_F32, _BOOL):
            raise UnsupportedModel(f"{op} of {xs[0].dtype}")
    elif op == "If":
        if xs[0].dtype != _BOOL or xs[0].size != 1:
            raise UnsupportedModel("If needs a single bool condition")
    else:
        _float_only(*xs)
    if op == "Gemm":
        a, b, *c = xs
        if a.ndim != 2 or b.ndim != 2 or (c and c[0].ndim > 2):
            raise UnsupportedModel("Gemm needs 2-D A and B")


# -- the plan ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Step:
    op: str
    fn: Op | None  # None for If
    inputs: tuple[str, ...]  # "" is an omitted optional input
    output: str
    branches: tuple[_Plan, _Plan] | None = None


@dataclass(frozen=True, slots=True)
class _Plan:
    consts: dict[str, np.ndarray]  # this graph's initializers and Constant values
    steps: tuple[_Step, ...]
    outputs: tuple[str, ...]
    bound: tuple[Callable[[dict[str, np.ndarray]], None], ...] = ()  # the steps, for `_fast`


def _bind(step: _Step) -> Callable[[dict[str, np.ndarray]], None]:
    """`step` as one call on the environment, its names bound: the run's dispatch was a third
    of a step's time (a classifier is ~30 ops on 1 x 128 arrays, ~1 us of numpy each)."""
    out, fn, names = step.output, step.fn, step.inputs
    if step.branches is not None:
        (cond,), (then, other) = names, step.branches

        def branch(env: dict[str, np.ndarray]) -> None:
            plan = then if env[cond].reshape(-1)[0] else other
            env[out] = _fast(plan, dict(env))

        return branch
    assert fn is not None
    if len(names) == 1:
        (a,) = names

        def unary(env: dict[str, np.ndarray]) -> None:
            env[out] = fn(env[a])

        return unary
    if len(names) == 2:
        a, b = names

        def binary(env: dict[str, np.ndarray]) -> None:
            env[out] = fn(env[a], env[b])

        return binary
    a, b, c = names

    def ternary(env: dict[str, np.ndarray]) -> None:
        env[out] = fn(env[a], env[b], env[c] if c else None)

    return ternary


def _compile(graph: Graph, scope: set[str]) -> _Plan:
    """`graph`'s nodes as steps; `scope` holds every name visible so far and gains this
    graph's initializers, constants and node outputs."""
    if graph.sparse_initializers:
        raise UnsupportedModel("sparse initializers are not supported")
    consts: dict[str, np.ndarray] = {}
    for name, t in graph.initializers.items():
        if t.data is None:
            raise UnsupportedModel(f"initializer {name!r} has data type {t.data_type}")
        consts[name] = t.data
    scope.update(consts)
    steps = []
    for node in graph.nodes:
        op = node.op_type
        if node.domain not in ("", "ai.onnx") or op not in SUPPORTED_OPS:
            raise UnsupportedModel(f"op {node.domain + '.' if node.domain else ''}{op}")
        lo, hi = _ARITY[op]
        if not lo <= len(node.inputs) <= hi or len(node.outputs) != 1 or not node.outputs[0]:
            raise UnsupportedModel(f"{op} with {len(node.inputs)} inputs, {node.outputs} out")
        for name in node.inputs:
            if name and name not in scope:
                raise UnsupportedModel(f"{op} reads {name!r}, which is not defined before it")
        if any(not name for name in node.inputs[:lo]):
            raise UnsupportedModel(f"{op}: a required input is empty")
        out = node.outputs[0]
        if op == "Constant":
            attrs = _attrs(node, {"value": 4})
            value = attrs["value"].t if "value" in attrs else None
            if value is None or value.data is None:
                raise UnsupportedModel("Constant: a float tensor 'value' only")
            consts[out] = value.data
            scope.add(out)
            continue
        branches = None
        fn: Op | None = None
        if op == "If":
            attrs = _attrs(node, {"then_branch": 5, "else_branch": 5})
            plans = []
            for key in ("then_branch", "else_branch"):
                sub = attrs[key].g if key in attrs else None
                if sub is None or sub.inputs or len(sub.outputs) != 1:
                    raise UnsupportedModel(f"If: {key} must have no inputs and one output")
                plans.append(_compile(sub, set(scope)))  # the branch sees the outer scope
            branches = (plans[0], plans[1])
        else:
            fn = _BUILDERS[op](node)
        steps.append(_Step(op, fn, node.inputs, out, branches))
        scope.add(out)
    for o in graph.outputs:
        if o.name not in scope:
            raise UnsupportedModel(f"output {o.name!r} is not computed")
    bound = tuple(_bind(step) for step in steps)
    return _Plan(consts, tuple(steps), tuple(o.name for o in graph.outputs), bound)


def _run(plan: _Plan, env: dict[str, np.ndarray], validate: bool = False) -> list[np.ndarray]:
    """Evaluate `plan` in `env` (which it extends). `validate`: check every op's dtypes and
    ranks and run both branches of every If, comparing their outputs' shapes and dtypes."""
    env.update(plan.consts)
    for step in plan.steps:
        xs = [env[name] for name in step.inputs if name]
        if validate:
            _check(step.op, xs)
        if step.branches is None:
            assert step.fn is not None
            if len(step.inputs) == 3 and not step.inputs[2]:
                xs.append(None)  # type: ignore[arg-type]  # Gemm without C
            y = step.fn(*xs)
        else:
            then, other = step.branches
            if validate:
                a, b = _run(then, dict(env), True)[0], _run(other, dict(env), True)[0]
                if a.shape != b.shape or a.dtype != b.dtype:
                    raise UnsupportedModel(
                        f"If branches give {a.shape} {a.dtype} and {b.shape} {b.dtype}"
                    )
            y = _run(then if bool(xs[0].reshape(-1)[0]) else other, dict(env))[0]
        env[step.output] = y
    return [env[name] for name in plan.outputs]


def _fast(plan: _Plan, env: dict[str, np.ndarray]) -> np.ndarray:
    """`plan`'s (single) output in `env`, without the checks (`_run` made them at load)."""
    env.update(plan.consts)
    for step in plan.bound:
        step(env)
    return env[plan.outputs[0]]


class NumpyGraph:
    """A loaded classifier: `run(x)` takes the (1, n, 96) float32 window, returns (1, 1)."""

    def __init__(self, graph: Graph) -> None:
        """Compile and validate `graph` (see the module docstring). Raises UnsupportedModel."""
        initializers = set(graph.initializers)
        inputs = [i for i in graph.inputs if i.name not in initializers]  # IR < 4 lists both
        if len(inputs) != 1 or len(graph.outputs) != 1:
            raise UnsupportedModel(f"{len(inputs)} inputs, {len(graph.outputs)} outputs")
        inp, out = inputs[0], graph.outputs[0]
        shape = inp.shape
        if inp.elem_type != FLOAT or shape is None or not all(isinstance(d, int) for d in shape):
            raise UnsupportedModel(f"input {inp.name!r} is not float32 of a static shape")
        if any(d < 0 for d in shape):  # type: ignore[operator]
            raise UnsupportedModel(f"input {inp.name!r} has shape {shape}")
        if out.elem_type != FLOAT:
            raise UnsupportedModel(f"output {out.name!r} is not float32")
        self.input_name = inp.name
        self.input_shape: tuple[int, ...] = tuple(shape)  # type: ignore[arg-type]
        self._plan = _compile(graph, {inp.name})
        try:
            with np.errstate(all="raise"):
                zeros = np.zeros(self.input_shape, np.float32)
                y = _run(self._plan, {self.input_name: zeros}, validate=True)[0]
        except UnsupportedModel:
            raise
        except (ValueError, TypeError, FloatingPointError, IndexError) as exc:
            raise UnsupportedModel(f"a trial run failed: {exc}") from exc
        declared = out.shape
        if y.dtype != _F32 or (
            declared is not None
            and (
                len(declared) != y.ndim
                or any(
                    isinstance(d, int) and d != n for d, n in zip(declared, y.shape, strict=True)
                )
            )
        ):
            raise UnsupportedModel(f"output {y.shape} {y.dtype}, declared {declared}")

    def run(self, x: np.ndarray) -> np.ndarray:
        """The model's output for `x` (float32 of exactly `input_shape`, else ValueError)."""
        if x.shape != self.input_shape or x.dtype != _F32:
            raise ValueError(f"input {x.shape} {x.dtype}, the model takes {self.input_shape}")
        return _fast(self._plan, {self.input_name: x})


def load_graph(path: Path) -> NumpyGraph:
    """The model at `path` as a NumpyGraph.

    Raises:
        OSError: the file cannot be read.
        OnnxFormatError: it is not decodable ONNX (corrupt, truncated, over the size cap).
        UnsupportedModel: it is, but uses something NumpyGraph does not run.
    """
    model = read_model(path)
    if model.functions:
        raise UnsupportedModel("local functions are not supported")
    extra = sorted(d for d in model.opsets if d not in ("", "ai.onnx"))
    version = model.opsets.get("", model.opsets.get("ai.onnx"))
    if extra or version not in OPSETS:
        raise UnsupportedModel(f"opsets {model.opsets}: ai.onnx {OPSETS.start}..{OPSETS.stop - 1}")
    return NumpyGraph(model.graph)

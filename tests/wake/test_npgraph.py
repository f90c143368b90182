"""The numpy classifier evaluator against onnxruntime: literal graphs, the shipped models, and
what it must decline (to onnxruntime) or refuse (the models error)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort  # type: ignore[import-untyped]
import pytest

from edge_agent.config import WakeConfig
from edge_agent.errors import WakeModelError
from edge_agent.wake import onnxwire
from edge_agent.wake.detector import WakeDetector
from edge_agent.wake.features import FeatureStream
from edge_agent.wake.models import ModelPaths
from edge_agent.wake.npgraph import NumpyGraph, UnsupportedModel, load_graph
from edge_agent.wake.onnxwire import OnnxFormatError, parse_model, read_model
from tests.wake import onnx_encode as enc
from tests.wake.conftest import say

# float32 rounding in a different order (OpenBLAS/numpy vs MLAS, onnxruntime's fused
# LayerNorm): measured <= 4e-6 on the shipped models over random windows.
ATOL = 2e-5
SHIPPED = ("hey_jarvis", "alexa", "hey_mycroft", "hey_rhasspy")


def _ort(data: bytes | Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    return ort.InferenceSession(
        data if isinstance(data, bytes) else str(data), options, providers=["CPUExecutionProvider"]
    )


def _write(tmp_path: Path, data: bytes, name: str = "m.onnx") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _mlp(
    rng: np.random.Generator,
    width: int = 24,
    *,
    layernorm: bool = True,
    verifier: bool = False,
    raw: bool = True,
    cut: float = 0.5,
) -> bytes:
    """A classifier shaped like the shipped ones (input (1, 4, 6)), random weights."""
    init: dict[str, np.ndarray] = {}
    nodes: list[bytes] = []

    def net(prefix: str, x: str, w: int, out: str) -> None:
        sizes = [(w, 24), (w, w), (1, w)]
        for i, (rows, cols) in enumerate(sizes):
            init[f"{prefix}{i}.w"] = (rng.standard_normal((rows, cols)) / np.sqrt(cols)).astype(
                np.float32
            )
            init[f"{prefix}{i}.b"] = rng.standard_normal(rows).astype(np.float32) * 0.1
        nodes.append(enc.node("Flatten", [x], [f"{prefix}flat"], axis=1))
        h = f"{prefix}flat"
        for i in range(2):
            nodes.append(
                enc.node(
                    "Gemm",
                    [h, f"{prefix}{i}.w", f"{prefix}{i}.b"],
                    [f"{prefix}g{i}"],
                    alpha=1.0,
                    beta=1.0,
                    transB=1,
                )
            )
            h = f"{prefix}g{i}"
            if layernorm:
                init[f"{prefix}ln{i}.w"] = rng.uniform(0.5, 1.5, w).astype(np.float32)
                init[f"{prefix}ln{i}.b"] = rng.standard_normal(w).astype(np.float32) * 0.1
                nodes.extend(
                    enc.layernorm(
                        h, f"{prefix}n{i}", f"{prefix}ln{i}.w", f"{prefix}ln{i}.b", f"{prefix}l{i}"
                    )
                )
                h = f"{prefix}n{i}"
            nodes.append(enc.node("Relu", [h], [f"{prefix}r{i}"]))
            h = f"{prefix}r{i}"
        nodes.append(
            enc.node("Gemm", [h, f"{prefix}2.w", f"{prefix}2.b"], [f"{prefix}z"], transB=1)
        )
        nodes.append(enc.node("Sigmoid", [f"{prefix}z"], [out]))

    net("m", "x", width, "p1" if verifier else "y")
    if verifier:
        main_nodes, nodes = nodes, []
        net("v", "x", width // 2, "p2")  # reads the outer graph's x and initializers, as exported
        then = enc.Graph(nodes, (), [enc.value_info("p2", [1, 1])])
        other = enc.Graph(
            [enc.node("Identity", ["p1"], ["p1o"])], (), [enc.value_info("p1o", [1, 1])]
        )
        nodes = [
            *main_nodes,
            enc.node("Constant", [], ["cut"], value=np.array(cut, np.float32)),
            enc.node("GreaterOrEqual", ["p1", "cut"], ["ge"]),
            enc.node("Cast", ["ge"], ["cond"], to=9),
            enc.node("If", ["cond"], ["y"], then_branch=then, else_branch=other),
        ]
    graph = enc.Graph(
        nodes, [enc.value_info("x", [1, 4, 6])], [enc.value_info("y", [1, 1])], init, raw=raw
    )
    return enc.model(graph)


def _windows(rng: np.random.Generator, shape: tuple[int, ...], n: int = 40) -> list[np.ndarray]:
    return [
        (rng.standard_normal(shape) * rng.uniform(0.05, 4)).astype(np.float32) for _ in range(n)
    ]


@pytest.mark.parametrize(
    ("kind", "kw"),
    [
        ("layernorm MLP", {}),
        ("plain MLP (alexa's shape)", {"layernorm": False}),
        ("float_data weights", {"raw": False}),
        ("If with a verifier branch", {"verifier": True, "cut": 0.5}),
    ],
)
def test_literal_graphs_equal_onnxruntime(kind: str, kw: dict[str, object]) -> None:
    rng = np.random.default_rng(len(kind))
    data = _mlp(rng, **kw)  # type: ignore[arg-type]
    graph, session = NumpyGraph(parse_model(data).graph), _ort(data)
    outs = []
    for x in _windows(rng, (1, 4, 6)):
        a, b = graph.run(x), session.run(None, {"x": x})[0]
        assert a.shape == b.shape == (1, 1) and a.dtype == b.dtype == np.float32
        np.testing.assert_allclose(a, b, atol=ATOL, rtol=0)
        outs.append(float(b[0, 0]))
    if kw.get("verifier"):  # both branches were taken
        assert min(outs) < 0.5 <= max(outs), outs


def test_if_takes_the_branch_onnxruntime_takes() -> None:
    """With the cut at 0 every input runs the verifier; at 2 none does (p1 passes through)."""
    for cut in (0.0, 2.0):
        rng = np.random.default_rng(5)
        data = _mlp(rng, verifier=True, cut=cut)
        graph, session = NumpyGraph(parse_model(data).graph), _ort(data)
        plain = NumpyGraph(parse_model(_mlp(np.random.default_rng(5), verifier=False)).graph)
        for x in _windows(rng, (1, 4, 6), 10):
            np.testing.assert_allclose(
                graph.run(x), session.run(None, {"x": x})[0], atol=ATOL, rtol=0
            )
            same_as_p1 = bool(np.abs(graph.run(x) - plain.run(x)).max() < 1e-7)
            assert same_as_p1 == (cut == 2.0)


def test_gemm_attributes_and_reducemean_keepdims() -> None:
    rng = np.random.default_rng(3)
    init = {
        "a": rng.standard_normal((5, 3)).astype(np.float32),
        "c": rng.standard_normal(4).astype(np.float32),
    }
    nodes = [
        enc.node("Flatten", ["x"], ["f"], axis=2),  # (2, 3, 5) -> (6, 5)
        enc.node("Gemm", ["f", "a"], ["g"], alpha=0.5),  # no C
        enc.node("Gemm", ["g", "g", "c"], ["h"], transA=1, alpha=2.0, beta=-0.25),  # (3, 3)
        enc.node("ReduceMean", ["h"], ["m"], axes=[0], keepdims=0),
        enc.node("ReduceMean", ["m"], ["y"], keepdims=1),  # all axes
    ]
    init["c"] = init["c"][:3]
    data = enc.model(
        enc.Graph(nodes, [enc.value_info("x", [2, 3, 5])], [enc.value_info("y", [1])], init)
    )
    graph, session = NumpyGraph(parse_model(data).graph), _ort(data)
    for x in _windows(rng, (2, 3, 5), 10):
        np.testing.assert_allclose(
            graph.run(x), session.run(None, {"x": x})[0], rtol=1e-5, atol=1e-5
        )


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_models_equal_onnxruntime(name: str, models_dir: Path) -> None:
    path = models_dir / f"{name}_v0.1.onnx"
    graph, session = load_graph(path), _ort(path)
    assert graph.input_shape == (1, 16, 96)
    input_name = session.get_inputs()[0].name
    rng = np.random.default_rng(11)
    for x in _windows(rng, (1, 16, 96), 60):
        a, b = graph.run(x), session.run(None, {input_name: x})[0]
        np.testing.assert_allclose(a, b, atol=ATOL, rtol=0)


def test_hey_jarvis_on_real_embeddings_takes_both_branches(model_paths: ModelPaths) -> None:
    """Spoken "hey jarvis" through the real front end: scores on both sides of the If's 0.5."""
    assert model_paths.melspectrogram is not None and model_paths.embedding is not None
    features = FeatureStream(model_paths.melspectrogram, model_paths.embedding)
    path = model_paths.wake["hey_jarvis"]
    graph, session = load_graph(path), _ort(path)
    pcm = np.concatenate([np.zeros(16000, np.int16), say("hey jarvis"), np.zeros(16000, np.int16)])
    scores = []
    for i in range(len(pcm) // 1280):
        features.step(pcm[i * 1280 : (i + 1) * 1280])
        x = features.window(16)
        a, b = graph.run(x), session.run(None, {"x.1": x})[0]
        np.testing.assert_allclose(a, b, atol=ATOL, rtol=0)
        scores.append(float(b[0, 0]))
    assert min(scores) < 0.5 <= max(scores)


def _tanh_model() -> bytes:
    nodes = [
        enc.node("Flatten", ["x"], ["f"]),
        enc.node("Tanh", ["f"], ["t"]),
        enc.node("ReduceMean", ["t"], ["y"], axes=[1]),
    ]
    return enc.model(
        enc.Graph(nodes, [enc.value_info("x", [1, 16, 96])], [enc.value_info("y", [1, 1])])
    )


def test_unsupported_op_is_declined(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedModel, match="op Tanh"):
        load_graph(_write(tmp_path, _tanh_model()))


def _declined(data: bytes) -> str:
    with pytest.raises(UnsupportedModel) as info:
        model = parse_model(data)
        if model.opsets.get("") not in range(13, 18):
            raise UnsupportedModel("opset")
        NumpyGraph(model.graph)
    return str(info.value)


def test_declines_what_it_does_not_run() -> None:
    x_in, y_out = [enc.value_info("x", [1, 4])], [enc.value_info("y", [1, 4])]
    relu = [enc.node("Relu", ["x"], ["y"])]
    assert "float32" in _declined(
        enc.model(enc.Graph(relu, [enc.value_info("x", [1, 4], 7)], y_out))
    )
    assert "static" in _declined(
        enc.model(enc.Graph(relu, [enc.value_info("x", ["batch", 4])], y_out))
    )
    half = {"w": np.ones(4, np.float16)}
    mul = [enc.node("Mul", ["x", "w"], ["y"])]
    assert "data type 10" in _declined(enc.model(enc.Graph(mul, x_in, y_out, half)))
    bad = {"w": np.ones(3, np.float32)}  # does not broadcast with (1, 4)
    assert "trial run" in _declined(enc.model(enc.Graph(mul, x_in, y_out, bad)))
    assert "not defined" in _declined(
        enc.model(enc.Graph([enc.node("Relu", ["z"], ["y"])], x_in, y_out))
    )
    custom = [enc.node("Relu", ["x"], ["y"], domain="com.example")]
    assert "com.example.Relu" in _declined(enc.model(enc.Graph(custom, x_in, y_out)))
    odd = [enc.node("Flatten", ["x"], ["y"], axis=1, extra=3)]
    assert "attribute 'extra'" in _declined(enc.model(enc.Graph(odd, x_in, y_out)))
    assert "declared" in _declined(enc.model(enc.Graph(relu, x_in, [enc.value_info("y", [1, 5])])))
    # dtype and rank rules that only the trial run sees (numpy itself would compute these)
    bool_relu = [enc.node("Cast", ["x"], ["b"], to=9), enc.node("Relu", ["b"], ["y"])]
    assert "float32 only" in _declined(enc.model(enc.Graph(bool_relu, x_in, y_out)))
    branch = enc.Graph([enc.node("Identity", ["x"], ["z"])], (), [enc.value_info("z", [1, 4])])
    float_if = [enc.node("If", ["x"], ["y"], then_branch=branch, else_branch=branch)]
    assert "single bool" in _declined(enc.model(enc.Graph(float_if, x_in, y_out)))
    w = {"w": np.ones((4, 4), np.float32)}
    gemm_3d = [enc.node("Gemm", ["x", "w"], ["y"])]
    x3 = [enc.value_info("x", [1, 2, 4])]
    assert "2-D" in _declined(
        enc.model(enc.Graph(gemm_3d, x3, [enc.value_info("y", [1, 2, 4])], w))
    )
    other = enc.Graph(
        [enc.node("Flatten", ["x"], ["z"], axis=0)], (), [enc.value_info("z", [1, 4])]
    )
    cond = [
        enc.node("Constant", [], ["c"], value=np.array(1.0, np.float32)),
        enc.node("Cast", ["c"], ["cb"], to=9),
    ]
    uneven_if = [*cond, enc.node("If", ["cb"], ["y"], then_branch=branch, else_branch=other)]
    assert "If branches give" in _declined(
        enc.model(enc.Graph(uneven_if, [enc.value_info("x", [2, 2])], y_out))
    )


def test_load_graph_checks_the_opset(tmp_path: Path) -> None:
    relu = enc.Graph(
        [enc.node("Relu", ["x"], ["y"])],
        [enc.value_info("x", [1, 4])],
        [enc.value_info("y", [1, 4])],
    )
    assert load_graph(_write(tmp_path, enc.model(relu, opset=14))).input_shape == (1, 4)
    with pytest.raises(UnsupportedModel, match="opsets"):
        load_graph(_write(tmp_path, enc.model(relu, opset=18)))


def test_reader_refuses_truncated_and_corrupt_files(models_dir: Path, tmp_path: Path) -> None:
    data = (models_dir / "hey_jarvis_v0.1.onnx").read_bytes()
    for cut in (1, 100, len(data) // 2, len(data) - 1):
        with pytest.raises(OnnxFormatError):
            parse_model(data[:cut])
    with pytest.raises(OnnxFormatError, match="wire type"):
        parse_model(b"\x0b\x00\x00")  # field 1, wire type 3 (a group)
    with pytest.raises(OnnxFormatError, match="varint"):
        parse_model(b"\x08" + b"\xff" * 11)
    with pytest.raises(OnnxFormatError, match="empty"):
        read_model(_write(tmp_path, b""))


def test_reader_caps_size_and_depth(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = [enc.value_info("y", [1])]
    graph = enc.Graph([enc.node("Identity", ["x"], ["y"])], [enc.value_info("x", [1])], out)
    for _ in range(onnxwire.MAX_GRAPH_DEPTH + 1):  # If inside If inside ...
        graph = enc.Graph(
            [enc.node("If", ["c"], ["y"], then_branch=graph, else_branch=graph)], (), out
        )
    with pytest.raises(OnnxFormatError, match="nested deeper"):
        parse_model(enc.model(graph))
    path = _write(tmp_path, _tanh_model())
    monkeypatch.setattr(onnxwire, "MAX_FILE_BYTES", path.stat().st_size - 1)
    with pytest.raises(OnnxFormatError, match="cap"):
        read_model(path)


@pytest.mark.parametrize("damage", ["truncated", "garbage", "missing"])
def test_a_broken_wake_model_raises_the_models_error(
    damage: str, model_paths: ModelPaths, tmp_path: Path
) -> None:
    path = tmp_path / "broken.onnx"
    data = model_paths.wake["hey_jarvis"].read_bytes()
    if damage == "truncated":
        path.write_bytes(data[: len(data) // 3])
    elif damage == "garbage":
        path.write_bytes(b"\x0b" + data[1:200])
    paths = ModelPaths(model_paths.melspectrogram, model_paths.embedding, {"custom": path}, None)
    cfg = WakeConfig(vad_threshold=0.0)
    with pytest.raises(WakeModelError, match=r"cannot load model .*broken\.onnx.*models fetch"):
        WakeDetector(cfg, paths)

#!/usr/bin/env python3
"""Tiny ONNX models for the model-runtime contract suite (test/contracts/model-runtime.test.ts).

Two artifacts, each a folder holding exactly what a user packs (`model.onnx` + `serving.json`),
plus a `reference.json` beside it with input rows and the expected predictions:

- test/fixtures/onnx/classifier/: logistic regression on 4 features, binary ("stay"/"churn").
  Graph: standardise (Sub, Div) -> MatMul -> Add -> Sigmoid -> Concat(1-p, p) = `probabilities`
  [N, 2] float32, ArgMax = `label` [N] int64 (an index into serving.json `classes`).
- test/fixtures/onnx/regressor/: linear regression on 3 features, `value` [N, 1] float32.
- test/fixtures/onnx/multiclass/: softmax regression on 3 features, 3 classes; `label` is a
  string tensor (ArgMax -> ai.onnx.ml LabelEncoder), `probabilities` [N, 3] float32.
- test/fixtures/onnx/refused/: models the runtime must refuse with a clear error (no serving.json,
  no reference): `zipmap.onnx`, whose probabilities are a sequence of maps (skl2onnx's default
  ZipMap), and `int64-input.onnx`, whose input is not float32.

The weights are fixed constants (not fitted), so the .onnx bytes are the same on every run and
machine. The reference predictions are computed twice, by onnxruntime and by the closed-form
formula in float64; the script fails if they differ by more than 1e-6, and writes onnxruntime's.
It needs onnx and onnxruntime (wheels for both are on the machine's pip index):

    python3 -m venv /tmp/onnx-venv && /tmp/onnx-venv/bin/pip install onnx==1.23.1 onnxruntime==1.30.0 numpy
    /tmp/onnx-venv/bin/python scripts/make-onnx-fixture.py   # from the repository root; commit the output
"""
import json
import pathlib

import numpy as np
import onnx
import onnxruntime
from onnx import TensorProto, helper, numpy_helper

ROOT = pathlib.Path(__file__).resolve().parent.parent / "test" / "fixtures" / "onnx"
# Old enough for every onnxruntime of the last years (node, web, python) to read.
OPSET = 17
IR_VERSION = 8
TOLERANCE = 1e-6


def f32(values):
    return np.asarray(values, dtype=np.float32)


def save(folder, model, serving, rows, predictions, note):
    folder.mkdir(parents=True, exist_ok=True)
    onnx.checker.check_model(model, full_check=True)
    (folder / "model.onnx").write_bytes(model.SerializeToString())
    (folder / "serving.json").write_text(json.dumps(serving, indent=2) + "\n")
    reference = {
        "note": note,
        "generator": "scripts/make-onnx-fixture.py",
        "versions": {"onnx": onnx.__version__, "onnxruntime": onnxruntime.__version__, "numpy": np.__version__},
        "tolerance": TOLERANCE,
        "rows": rows.tolist(),
        "predictions": predictions,
    }
    (folder.parent / f"{folder.name}.reference.json").write_text(json.dumps(reference, indent=1) + "\n")


def run(model, feed):
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, feed)


def rows_for(centre, scale, rng_seed, count):
    # Ordinary values around the training distribution, then extremes: zeros, large magnitudes
    # (a saturated sigmoid), negatives, a ramp.
    width = len(centre)
    rng = np.random.default_rng(rng_seed)
    ordinary = rng.normal(0, 1, size=(count, width)) * np.asarray(scale) + np.asarray(centre)
    extremes = np.array([[0.0] * width, [1e4] * width, [-1e4] * width, [0.5 * (i + 1) for i in range(width)]])
    # Rounded to 3 decimals so the JSON is short; the runtimes see each as the nearest float32.
    return np.round(np.vstack([ordinary, extremes]), 3)


def classifier():
    features = ["tenure_months", "monthly_charges", "support_calls", "age"]
    mean = f32([24.0, 60.0, 2.0, 40.0])
    std = f32([12.0, 25.0, 1.5, 12.0])
    weights = f32([[-1.2], [0.8], [1.5], [-0.3]])
    bias = f32([-0.4])
    nodes = [
        helper.make_node("Sub", ["features", "mean"], ["centred"]),
        helper.make_node("Div", ["centred", "std"], ["scaled"]),
        helper.make_node("MatMul", ["scaled", "weights"], ["logit_raw"]),
        helper.make_node("Add", ["logit_raw", "bias"], ["logit"]),
        helper.make_node("Sigmoid", ["logit"], ["p_churn"]),
        helper.make_node("Sub", ["one", "p_churn"], ["p_stay"]),
        helper.make_node("Concat", ["p_stay", "p_churn"], ["probabilities"], axis=1),
        helper.make_node("ArgMax", ["probabilities"], ["label"], axis=1, keepdims=0),
    ]
    graph = helper.make_graph(
        nodes,
        "churn_logreg",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", len(features)])],
        [
            helper.make_tensor_value_info("label", TensorProto.INT64, ["N"]),
            helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 2]),
        ],
        [
            numpy_helper.from_array(mean, "mean"),
            numpy_helper.from_array(std, "std"),
            numpy_helper.from_array(weights, "weights"),
            numpy_helper.from_array(bias, "bias"),
            numpy_helper.from_array(f32([1.0]), "one"),
        ],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=IR_VERSION, producer_name="aegis-fixture"
    )
    classes = ["stay", "churn"]
    serving = {
        "format": "onnx",
        "inputs": {"name": "features", "features": features},
        "outputs": {"label": "label", "probabilities": "probabilities"},
        "classes": classes,
    }
    rows = rows_for(mean, std, 17, 12)
    label, probabilities = run(model, {"features": rows.astype(np.float32)})
    # Closed form in float64 from the same float32 inputs and weights.
    x = rows.astype(np.float32).astype(np.float64)
    z = ((x - mean.astype(np.float64)) / std.astype(np.float64)) @ weights.astype(np.float64) + float(bias[0])
    with np.errstate(over="ignore"):  # exp(1e3) is inf for the extreme rows: p is then exactly 0
        p = 1.0 / (1.0 + np.exp(-z[:, 0]))
    expected = np.stack([1.0 - p, p], axis=1)
    gap = float(np.max(np.abs(expected - probabilities.astype(np.float64))))
    assert gap <= TOLERANCE, f"onnxruntime and the closed form differ by {gap}"
    assert list(label) == [int(np.argmax(e)) for e in expected], "argmax labels differ"
    predictions = [
        {"label": classes[int(label[i])], "probabilities": {c: float(probabilities[i][j]) for j, c in enumerate(classes)}}
        for i in range(len(rows))
    ]
    note = "logistic regression, 4 features, classes stay/churn; predictions from onnxruntime, checked against the closed form"
    save(ROOT / "classifier", model, serving, rows, predictions, note)
    return gap


def regressor():
    features = ["rooms", "area_m2", "distance_km"]
    weights = f32([[12.5], [1.75], [-3.25]])
    bias = f32([40.0])
    nodes = [
        helper.make_node("MatMul", ["x", "weights"], ["raw"]),
        helper.make_node("Add", ["raw", "bias"], ["price"]),
    ]
    graph = helper.make_graph(
        nodes,
        "price_linreg",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", len(features)])],
        [helper.make_tensor_value_info("price", TensorProto.FLOAT, ["N", 1])],
        [numpy_helper.from_array(weights, "weights"), numpy_helper.from_array(bias, "bias")],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=IR_VERSION, producer_name="aegis-fixture"
    )
    serving = {"format": "onnx", "inputs": {"name": "x", "features": features}, "outputs": {"value": "price"}}
    rows = rows_for([3.0, 80.0, 5.0], [1.0, 25.0, 3.0], 29, 8)
    (price,) = run(model, {"x": rows.astype(np.float32)})
    expected = rows.astype(np.float32).astype(np.float64) @ weights.astype(np.float64)[:, 0] + float(bias[0])
    # A relative check: the extremes' values are ~1e5, where float32 holds ~7 significant digits.
    gap = float(np.max(np.abs(expected - price[:, 0]) / np.maximum(1.0, np.abs(expected))))
    assert gap <= TOLERANCE, f"onnxruntime and the closed form differ by {gap} (relative)"
    predictions = [{"value": float(v)} for v in price[:, 0]]
    note = "linear regression, 3 features; predictions from onnxruntime, checked against the closed form (relative 1e-6)"
    save(ROOT / "regressor", model, serving, rows, predictions, note)
    return gap


def multiclass():
    features = ["petal_length", "petal_width", "sepal_length"]
    classes = ["setosa", "versicolor", "virginica"]
    weights = f32([[-2.0, 0.5, 1.5], [-1.5, 0.2, 1.3], [0.4, 0.1, -0.5]])
    bias = f32([6.0, 1.0, -7.0])
    nodes = [
        helper.make_node("MatMul", ["measurements", "weights"], ["raw"]),
        helper.make_node("Add", ["raw", "bias"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probs"], axis=1),
        helper.make_node("ArgMax", ["probs"], ["index"], axis=1, keepdims=0),
        helper.make_node(
            "LabelEncoder", ["index"], ["species"], domain="ai.onnx.ml", keys_int64s=[0, 1, 2], values_strings=classes, default_string="?"
        ),
    ]
    graph = helper.make_graph(
        nodes,
        "species_softmax",
        [helper.make_tensor_value_info("measurements", TensorProto.FLOAT, ["N", len(features)])],
        [
            helper.make_tensor_value_info("species", TensorProto.STRING, ["N"]),
            helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", len(classes)]),
        ],
        [numpy_helper.from_array(weights, "weights"), numpy_helper.from_array(bias, "bias")],
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid("ai.onnx.ml", 2)],
        ir_version=IR_VERSION,
        producer_name="aegis-fixture",
    )
    serving = {
        "format": "onnx",
        "inputs": {"name": "measurements", "features": features},
        "outputs": {"label": "species", "probabilities": "probs"},
        "classes": classes,
    }
    rows = rows_for([3.8, 1.2, 5.8], [1.7, 0.7, 0.8], 41, 12)
    species, probs = run(model, {"measurements": rows.astype(np.float32)})
    logits = rows.astype(np.float32).astype(np.float64) @ weights.astype(np.float64) + bias.astype(np.float64)
    logits -= logits.max(axis=1, keepdims=True)
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    gap = float(np.max(np.abs(expected - probs.astype(np.float64))))
    assert gap <= TOLERANCE, f"onnxruntime and the closed form differ by {gap}"
    assert list(species) == [classes[int(np.argmax(e))] for e in expected], "argmax labels differ"
    predictions = [
        {"label": str(species[i]), "probabilities": {c: float(probs[i][j]) for j, c in enumerate(classes)}} for i in range(len(rows))
    ]
    note = "softmax regression, 3 features, 3 classes, string labels; predictions from onnxruntime, checked against the closed form"
    save(ROOT / "multiclass", model, serving, rows, predictions, note)
    return gap


def refused():
    folder = ROOT / "refused"
    folder.mkdir(parents=True, exist_ok=True)
    ml = helper.make_opsetid("ai.onnx.ml", 3)
    # p = Sigmoid(x @ w); probabilities as ZipMap(Concat(1-p, p)): seq(map(int64, float))
    zipmap = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "w"], ["z"]),
            helper.make_node("Sigmoid", ["z"], ["p1"]),
            helper.make_node("Sub", ["one", "p1"], ["p0"]),
            helper.make_node("Concat", ["p0", "p1"], ["p"], axis=1),
            helper.make_node("ArgMax", ["p"], ["label"], axis=1, keepdims=0),
            helper.make_node("ZipMap", ["p"], ["probabilities"], domain="ai.onnx.ml", classlabels_int64s=[0, 1]),
        ],
        "zipmap_classifier",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2])],
        [
            helper.make_tensor_value_info("label", TensorProto.INT64, ["N"]),
            helper.make_value_info(
                "probabilities",
                helper.make_sequence_type_proto(helper.make_map_type_proto(TensorProto.INT64, helper.make_tensor_type_proto(TensorProto.FLOAT, []))),
            ),
        ],
        [numpy_helper.from_array(f32([[1.0], [-1.0]]), "w"), numpy_helper.from_array(f32([1.0]), "one")],
    )
    model = helper.make_model(zipmap, opset_imports=[helper.make_opsetid("", OPSET), ml], ir_version=IR_VERSION)
    onnx.checker.check_model(model, full_check=True)
    (folder / "zipmap.onnx").write_bytes(model.SerializeToString())
    # y = Cast(x, float) @ w: an int64 input
    int_input = helper.make_graph(
        [helper.make_node("Cast", ["x"], ["xf"], to=TensorProto.FLOAT), helper.make_node("MatMul", ["xf", "w"], ["y"])],
        "int64_input",
        [helper.make_tensor_value_info("x", TensorProto.INT64, ["N", 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1])],
        [numpy_helper.from_array(f32([[1.0], [2.0]]), "w")],
    )
    model = helper.make_model(int_input, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=IR_VERSION)
    onnx.checker.check_model(model, full_check=True)
    (folder / "int64-input.onnx").write_bytes(model.SerializeToString())
    run(model, {"x": np.array([[1, 2]], dtype=np.int64)})  # loads and runs in onnxruntime: only Aegis refuses it


if __name__ == "__main__":
    refused()
    print(f"classifier: max |onnxruntime - closed form| = {classifier():.3g}")
    print(f"multiclass: max |onnxruntime - closed form| = {multiclass():.3g}")
    print(f"regressor: max relative |onnxruntime - closed form| = {regressor():.3g}")
    print(f"wrote {ROOT}")

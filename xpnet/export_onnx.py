"""``xpnet export MODEL --onnx out.onnx``: a saved model as an ONNX graph (opset 17).

The graph takes raw features ``X`` ``(N, n_features)`` and gives ``probabilities`` (the output
activation's values; the regression values for an identity output). The model's scaler is its
first node (``Sub`` then ``Div``); then per layer ``Gemm``, ``BatchNormalization`` (evaluation
form, running statistics), the activation; dropout is the identity at inference and is left
out. Class labels and feature names go in the model's metadata as JSON.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from .layers import Activation, BatchNorm, Dense
from .ops import BN_EPS, LEAKY_SLOPE

OPSET = 17
_ACTIVATIONS = {"sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "Relu", "leaky_relu": "LeakyRelu"}
_OUTPUTS = {"softmax": "Softmax", "sigmoid": "Sigmoid", "identity": "Identity"}


def to_onnx(net):
    """An ``onnx.ModelProto`` computing ``net``'s evaluation-mode outputs from raw features."""
    try:
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError:
        raise ImportError("ONNX export needs onnx: pip install 'xpnet[onnx]'") from None
    dtype = np.float64 if net.dtype == "float64" else np.float32
    elem = TensorProto.DOUBLE if dtype == np.float64 else TensorProto.FLOAT
    state = {k: net.backend.to_numpy(v) for k, v in net.state_dict(copy=False).items()}
    inits, nodes = [], []

    def const(name, value):
        inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    h = "X"
    pre = net.preprocessor
    if pre is not None and pre.mean is not None:  # the scaler comes first
        nodes.append(
            helper.make_node(
                "Sub", [h, const("scaler.mean", pre.mean)], ["scaled_centered"], name="scaler_sub"
            )
        )
        nodes.append(
            helper.make_node(
                "Div", ["scaled_centered", const("scaler.scale", pre.scale)], ["scaled"], name="scaler_div"
            )
        )
        h = "scaled"
    for layer in net.modules:
        out = f"{layer.name}.out"
        if isinstance(layer, Dense):
            args = [h, const(layer.w, state[layer.w]), const(layer.b, state[layer.b])]
            nodes.append(helper.make_node("Gemm", args, [out], name=layer.name))
        elif isinstance(layer, BatchNorm):
            args = [h, *(const(k, state[k]) for k in (layer.w, layer.b, layer.mean, layer.var))]
            nodes.append(helper.make_node("BatchNormalization", args, [out], name=layer.name, epsilon=BN_EPS))
        elif isinstance(layer, Activation):
            extra = {"alpha": LEAKY_SLOPE} if layer.function == "leaky_relu" else {}
            nodes.append(helper.make_node(_ACTIVATIONS[layer.function], [h], [out], name=layer.name, **extra))
        else:  # dropout: the identity at inference
            continue
        h = out
    extra = {"axis": -1} if net.output == "softmax" else {}
    nodes.append(helper.make_node(_OUTPUTS[net.output], [h], ["probabilities"], name="output", **extra))
    graph = helper.make_graph(
        nodes,
        "xpnet_mlp",
        [helper.make_tensor_value_info("X", elem, ["N", net.n_features])],
        [helper.make_tensor_value_info("probabilities", elem, ["N", net.n_outputs])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="xpnet")
    model.ir_version = min(model.ir_version, 9)  # readable by onnxruntime releases of the last years
    meta = {"output": net.output, "config": net.config()}
    if pre is not None:
        meta.update(classes=pre.classes, feature_names=pre.feature_names, task=pre.task)
    helper.set_model_props(model, {"xpnet": json.dumps(meta)})
    onnx.checker.check_model(model)
    return model


def save_onnx(net, path) -> None:
    """Write ``net`` as an ONNX file at ``path``."""
    import onnx

    onnx.save(to_onnx(net), str(path))


def add_export_parser(sub) -> argparse.ArgumentParser:
    p = sub.add_parser(
        "export",
        help="export a saved model to ONNX",
        description="Export a model saved by `xpnet train --save` to ONNX (opset 17), scaler included.",
    )
    p.add_argument("model", help="a model file written by xpnet train --save (or MLP.save)")
    p.add_argument("--onnx", metavar="FILE", required=True, help="the ONNX file to write")
    p.set_defaults(func=cmd_export)
    return p


def cmd_export(args: argparse.Namespace) -> int:
    from .io import check_output_path
    from .predict import load_noting

    check_output_path(args.onnx, "--onnx")
    net = load_noting(args.model, "export")
    save_onnx(net, args.onnx)
    print(f"ONNX model (opset {OPSET}) written to {args.onnx}")
    return 0

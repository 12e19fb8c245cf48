#!/usr/bin/env python3
"""Builds the ONNX graph of a BERT sentence encoder directly from its safetensors weights.

No model hub and no PyTorch: the graph is written node by node with the `onnx` package, using
ONNX Runtime's fused transformer operators (EmbedLayerNormalization, Attention,
SkipLayerNormalization, BiasGelu from the `com.microsoft` domain), which are the fastest path of
ONNX Runtime on CPU. Mean pooling over the real tokens and L2 normalisation are part of the graph,
so a batch returns one vector per text.

Inputs:  input_ids int32 [batch, sequence] (right-padded with 0), attention_mask int32 [batch, sequence]
Output:  embedding float32 [batch, hidden]

The script checks the graph against a NumPy forward pass of the same weights before writing it.
Usage: export_onnx.py MODEL_DIR [OUT.onnx]   (OUT defaults to MODEL_DIR/model.onnx)
"""

import json
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from safetensors.numpy import load_file

MS = "com.microsoft"


def build(weights, config):
    hidden = config["hidden_size"]
    heads = config["num_attention_heads"]
    layers = config["num_hidden_layers"]
    eps = float(config.get("layer_norm_eps", 1e-12))
    if config.get("hidden_act", "gelu") != "gelu":
        raise SystemExit(f"unsupported activation {config['hidden_act']!r}")
    inits, nodes = [], []

    def init(name, array):
        inits.append(numpy_helper.from_array(np.ascontiguousarray(array, dtype=np.float32), name))
        return name

    def w(name):
        return weights[name].astype(np.float32)

    # Token type 0 everywhere: its embedding is folded into the position embeddings.
    position = w("embeddings.position_embeddings.weight") + w("embeddings.token_type_embeddings.weight")[0]
    nodes.append(helper.make_node(
        "EmbedLayerNormalization",
        ["input_ids", "", init("word_embeddings", w("embeddings.word_embeddings.weight")),
         init("position_embeddings", position), "",
         init("embeddings_ln_gamma", w("embeddings.LayerNorm.weight")),
         init("embeddings_ln_beta", w("embeddings.LayerNorm.bias")), "attention_mask"],
        ["h0", "mask_index"], domain=MS, epsilon=eps, name="embeddings"))
    state = "h0"
    for i in range(layers):
        p = f"encoder.layer.{i}."
        qkv_w = np.concatenate([w(p + f"attention.self.{n}.weight").T for n in ("query", "key", "value")], axis=1)
        qkv_b = np.concatenate([w(p + f"attention.self.{n}.bias") for n in ("query", "key", "value")])
        nodes.append(helper.make_node(
            "Attention", [state, init(f"l{i}_qkv_w", qkv_w), init(f"l{i}_qkv_b", qkv_b), "mask_index"],
            [f"l{i}_ctx"], domain=MS, num_heads=heads, name=f"l{i}_attention"))
        nodes.append(helper.make_node(
            "MatMul", [f"l{i}_ctx", init(f"l{i}_ao_w", w(p + "attention.output.dense.weight").T)],
            [f"l{i}_ao"], name=f"l{i}_attention_out"))
        nodes.append(helper.make_node(
            "SkipLayerNormalization",
            [f"l{i}_ao", state, init(f"l{i}_ln1_g", w(p + "attention.output.LayerNorm.weight")),
             init(f"l{i}_ln1_b", w(p + "attention.output.LayerNorm.bias")),
             init(f"l{i}_ao_b", w(p + "attention.output.dense.bias"))],
            [f"l{i}_h1"], domain=MS, epsilon=eps, name=f"l{i}_ln1"))
        nodes.append(helper.make_node(
            "MatMul", [f"l{i}_h1", init(f"l{i}_in_w", w(p + "intermediate.dense.weight").T)],
            [f"l{i}_in"], name=f"l{i}_intermediate"))
        nodes.append(helper.make_node(
            "BiasGelu", [f"l{i}_in", init(f"l{i}_in_b", w(p + "intermediate.dense.bias"))],
            [f"l{i}_gelu"], domain=MS, name=f"l{i}_gelu"))
        nodes.append(helper.make_node(
            "MatMul", [f"l{i}_gelu", init(f"l{i}_out_w", w(p + "output.dense.weight").T)],
            [f"l{i}_out"], name=f"l{i}_output"))
        nodes.append(helper.make_node(
            "SkipLayerNormalization",
            [f"l{i}_out", f"l{i}_h1", init(f"l{i}_ln2_g", w(p + "output.LayerNorm.weight")),
             init(f"l{i}_ln2_b", w(p + "output.LayerNorm.bias")),
             init(f"l{i}_out_b", w(p + "output.dense.bias"))],
            [f"l{i}_h2"], domain=MS, epsilon=eps, name=f"l{i}_ln2"))
        state = f"l{i}_h2"
    # Mean pooling over real tokens, then L2 normalisation.
    nodes += [
        helper.make_node("Cast", ["attention_mask"], ["mask_f"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["mask_f", "axis2"], ["mask_3d"]),
        helper.make_node("Mul", [state, "mask_3d"], ["masked"]),
        helper.make_node("ReduceSum", ["masked", "axis1"], ["summed"], keepdims=0),
        helper.make_node("ReduceSum", ["mask_f", "axis1"], ["count"], keepdims=1),
        helper.make_node("Max", ["count", "one"], ["count_safe"]),
        helper.make_node("Div", ["summed", "count_safe"], ["mean"]),
        helper.make_node("LpNormalization", ["mean"], ["embedding"], axis=1, p=2),
    ]
    inits += [
        numpy_helper.from_array(np.array([2], dtype=np.int64), "axis2"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1"),
        numpy_helper.from_array(np.array(1.0, dtype=np.float32), "one"),
    ]
    graph = helper.make_graph(
        nodes, "sentence_encoder",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT32, ["batch", "sequence"]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT32, ["batch", "sequence"])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", hidden])],
        inits)
    model = helper.make_model(
        graph, producer_name="xsignal scripts/export_onnx.py",
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid(MS, 1)])
    model.ir_version = 8
    return model


def reference(weights, config, ids, mask):
    """A NumPy forward pass of the same BERT: the check the graph must agree with."""
    from math import erf, sqrt

    hidden, heads = config["hidden_size"], config["num_attention_heads"]
    eps = float(config.get("layer_norm_eps", 1e-12))
    w = lambda n: weights[n].astype(np.float64)
    gelu = np.vectorize(lambda x: 0.5 * x * (1.0 + erf(x / sqrt(2.0))))

    def ln(x, g, b):
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + eps) * g + b

    b, s = ids.shape
    x = w("embeddings.word_embeddings.weight")[ids] + w("embeddings.position_embeddings.weight")[:s] \
        + w("embeddings.token_type_embeddings.weight")[0]
    x = ln(x, w("embeddings.LayerNorm.weight"), w("embeddings.LayerNorm.bias"))
    d = hidden // heads
    bias = (1.0 - mask[:, None, None, :]) * -1e9
    for i in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        lin = lambda t, n: t @ w(p + n + ".weight").T + w(p + n + ".bias")
        split = lambda t: t.reshape(b, s, heads, d).transpose(0, 2, 1, 3)
        q, k, v = (split(lin(x, f"attention.self.{n}")) for n in ("query", "key", "value"))
        scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(d) + bias
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        scores /= scores.sum(-1, keepdims=True)
        ctx = (scores @ v).transpose(0, 2, 1, 3).reshape(b, s, hidden)
        x = ln(lin(ctx, "attention.output.dense") + x,
               w(p + "attention.output.LayerNorm.weight"), w(p + "attention.output.LayerNorm.bias"))
        x = ln(lin(gelu(lin(x, "intermediate.dense")), "output.dense") + x,
               w(p + "output.LayerNorm.weight"), w(p + "output.LayerNorm.bias"))
    pooled = (x * mask[:, :, None]).sum(1) / mask.sum(1, keepdims=True)
    return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


def check(model_bytes, weights, config):
    import onnxruntime as ort

    session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(7)
    ids = rng.integers(1000, config["vocab_size"], size=(3, 19)).astype(np.int32)
    ids[:, 0], mask = 101, np.ones((3, 19), dtype=np.int32)
    for row, length in enumerate((19, 11, 4)):
        ids[row, length - 1] = 102
        ids[row, length:] = 0
        mask[row, length:] = 0
    got = session.run(["embedding"], {"input_ids": ids, "attention_mask": mask})[0]
    want = reference(weights, config, ids, mask.astype(np.float64))
    cosine = (got * want).sum(1).min()
    if cosine < 0.9999:
        raise SystemExit(f"graph disagrees with the NumPy reference: min cosine {cosine}")
    return cosine


def main():
    if len(sys.argv) not in (2, 3):
        raise SystemExit(__doc__)
    model_dir = Path(sys.argv[1])
    out = Path(sys.argv[2]) if len(sys.argv) == 3 else model_dir / "model.onnx"
    config = json.loads((model_dir / "config.json").read_text())
    weights = load_file(str(model_dir / "model.safetensors"))
    model = build(weights, config)
    onnx.checker.check_model(model)
    data = model.SerializeToString()
    cosine = check(data, weights, config)
    tmp = out.with_suffix(".onnx.tmp")
    tmp.write_bytes(data)
    tmp.replace(out)
    print(f"wrote {out} ({len(data) / 1e6:.1f} MB); min cosine to the NumPy reference {cosine:.6f}")


if __name__ == "__main__":
    main()

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

It also writes an int8 variant (`model-int8.onnx`): every matrix product of the encoder layers runs
as MatMulInteger on int8 weights (symmetric, one scale per output channel) and uint8 activations
quantised per token (symmetric around 128, one scale per token from the token's largest value).
Per-token scales keep a text's embedding independent of the other texts in its batch (ONNX Runtime's
own dynamic quantisation uses one scale per batch tensor, which makes embeddings depend on
batch-mates, up to a cosine of 0.97 here). Embeddings, attention softmax, layer norms and pooling
stay fp32. On AVX2 CPUs it runs about twice as fast as the fp32 graph, within a cosine of ~0.997
of it (the script checks >= 0.98 on its test batch, and that batching does not change a row).

Usage: export_onnx.py MODEL_DIR [OUT_DIR]   (OUT_DIR defaults to MODEL_DIR)
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
    nodes += pooling(state)
    inits += [
        numpy_helper.from_array(np.array([2], dtype=np.int64), "axis2"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1"),
        numpy_helper.from_array(np.array(1.0, dtype=np.float32), "one"),
    ]
    return make_model(nodes, inits, hidden, "sentence_encoder")


def pooling(state):
    """Mean pooling over real tokens, then L2 normalisation."""
    return [
        helper.make_node("Cast", ["attention_mask"], ["mask_f"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["mask_f", "axis2"], ["mask_3d"]),
        helper.make_node("Mul", [state, "mask_3d"], ["masked"]),
        helper.make_node("ReduceSum", ["masked", "axis1"], ["summed"], keepdims=0),
        helper.make_node("ReduceSum", ["mask_f", "axis1"], ["count"], keepdims=1),
        helper.make_node("Max", ["count", "one"], ["count_safe"]),
        helper.make_node("Div", ["summed", "count_safe"], ["mean"]),
        helper.make_node("LpNormalization", ["mean"], ["embedding"], axis=1, p=2),
    ]


def make_model(nodes, inits, hidden, name):
    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info("input_ids", TensorProto.INT32, ["batch", "sequence"]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT32, ["batch", "sequence"])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", hidden])],
        inits)
    model = helper.make_model(
        graph, producer_name="xsignal scripts/export_onnx.py",
        opset_imports=[helper.make_opsetid("", 18), helper.make_opsetid(MS, 1)])
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


def test_batch(config):
    """Three right-padded sequences of random word pieces, framed by [CLS] and [SEP]."""
    rng = np.random.default_rng(7)
    ids = rng.integers(1000, config["vocab_size"], size=(3, 19)).astype(np.int32)
    ids[:, 0], mask = 101, np.ones((3, 19), dtype=np.int32)
    for row, length in enumerate((19, 11, 4)):
        ids[row, length - 1] = 102
        ids[row, length:] = 0
        mask[row, length:] = 0
    return ids, mask


def run_graph(path_or_bytes, ids, mask):
    import onnxruntime as ort

    session = ort.InferenceSession(path_or_bytes, providers=["CPUExecutionProvider"])
    return session.run(["embedding"], {"input_ids": ids, "attention_mask": mask})[0]


def check(model_bytes, weights, config):
    ids, mask = test_batch(config)
    got = run_graph(model_bytes, ids, mask)
    want = reference(weights, config, ids, mask.astype(np.float64))
    cosine = (got * want).sum(1).min()
    if cosine < 0.9999:
        raise SystemExit(f"graph disagrees with the NumPy reference: min cosine {cosine}")
    return cosine


def build_int8(weights, config):
    """The encoder with int8 matrix products, activations quantised per token (see the module doc)."""
    hidden = config["hidden_size"]
    heads = config["num_attention_heads"]
    layers = config["num_hidden_layers"]
    eps = float(config.get("layer_norm_eps", 1e-12))
    inits, nodes = [], []

    def init(name, array, dtype=np.float32):
        inits.append(numpy_helper.from_array(np.ascontiguousarray(array, dtype=dtype), name))
        return name

    def w(name):
        return weights[name].astype(np.float32)

    init("c127", np.array(127.0))
    init("c128", np.array(128.0))
    init("c0", np.array(0.0))
    init("c255", np.array(255.0))
    init("tiny", np.array(1e-8))
    init("zero_point_128", np.array(128, dtype=np.uint8), np.uint8)
    init("last_axis", np.array([-1]), np.int64)

    def qlinear(x, weight_t, name):
        """x @ weight_t for x [batch, sequence, K], weight_t [K, N] (no bias)."""
        scale_w = np.maximum(np.abs(weight_t).max(0), 1e-12) / 127.0
        quantised = np.clip(np.round(weight_t / scale_w), -127, 127).astype(np.int8)
        init(name + "_wq", quantised, np.int8)
        init(name + "_ws", scale_w)
        n = lambda suffix: name + suffix
        nodes.extend([
            helper.make_node("Abs", [x], [n("_abs")]),
            helper.make_node("ReduceMax", [n("_abs"), "last_axis"], [n("_amax")], keepdims=1),
            helper.make_node("Max", [n("_amax"), "tiny"], [n("_amax_safe")]),
            helper.make_node("Div", [n("_amax_safe"), "c127"], [n("_xscale")]),
            helper.make_node("Div", [x, n("_xscale")], [n("_scaled")]),
            helper.make_node("Round", [n("_scaled")], [n("_rounded")]),
            helper.make_node("Add", [n("_rounded"), "c128"], [n("_shifted")]),
            helper.make_node("Clip", [n("_shifted"), "c0", "c255"], [n("_clipped")]),
            helper.make_node("Cast", [n("_clipped")], [n("_xq")], to=TensorProto.UINT8),
            helper.make_node("MatMulInteger", [n("_xq"), n("_wq"), "zero_point_128"], [n("_acc")]),
            helper.make_node("Cast", [n("_acc")], [n("_accf")], to=TensorProto.FLOAT),
            helper.make_node("Mul", [n("_accf"), n("_xscale")], [n("_partial")]),
            helper.make_node("Mul", [n("_partial"), n("_ws")], [name]),
        ])
        return name

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
        qkv = qlinear(state, qkv_w, f"l{i}_qkv")
        nodes.append(helper.make_node("Split", [qkv], [f"l{i}_q", f"l{i}_k", f"l{i}_v"], axis=2, num_outputs=3))
        nodes.append(helper.make_node(
            "MultiHeadAttention",
            [f"l{i}_q", f"l{i}_k", f"l{i}_v", init(f"l{i}_qkv_b", qkv_b), "attention_mask"],
            [f"l{i}_ctx"], domain=MS, num_heads=heads, name=f"l{i}_attention"))
        ao = qlinear(f"l{i}_ctx", w(p + "attention.output.dense.weight").T, f"l{i}_ao")
        nodes.append(helper.make_node(
            "SkipLayerNormalization",
            [ao, state, init(f"l{i}_ln1_g", w(p + "attention.output.LayerNorm.weight")),
             init(f"l{i}_ln1_b", w(p + "attention.output.LayerNorm.bias")),
             init(f"l{i}_ao_b", w(p + "attention.output.dense.bias"))],
            [f"l{i}_h1"], domain=MS, epsilon=eps, name=f"l{i}_ln1"))
        inter = qlinear(f"l{i}_h1", w(p + "intermediate.dense.weight").T, f"l{i}_in")
        nodes.append(helper.make_node(
            "BiasGelu", [inter, init(f"l{i}_in_b", w(p + "intermediate.dense.bias"))],
            [f"l{i}_gelu"], domain=MS, name=f"l{i}_gelu"))
        out = qlinear(f"l{i}_gelu", w(p + "output.dense.weight").T, f"l{i}_out")
        nodes.append(helper.make_node(
            "SkipLayerNormalization",
            [out, f"l{i}_h1", init(f"l{i}_ln2_g", w(p + "output.LayerNorm.weight")),
             init(f"l{i}_ln2_b", w(p + "output.LayerNorm.bias")),
             init(f"l{i}_out_b", w(p + "output.dense.bias"))],
            [f"l{i}_h2"], domain=MS, epsilon=eps, name=f"l{i}_ln2"))
        state = f"l{i}_h2"
    nodes += pooling(state)
    init("axis2", np.array([2]), np.int64)
    init("axis1", np.array([1]), np.int64)
    init("one", np.array(1.0))
    return make_model(nodes, inits, hidden, "sentence_encoder_int8")


def check_int8(int8_bytes, fp32_bytes, config):
    """The int8 graph stays near fp32, and a row's vector does not depend on its batch-mates."""
    ids, mask = test_batch(config)
    batched = run_graph(int8_bytes, ids, mask)
    cosine = (batched * run_graph(fp32_bytes, ids, mask)).sum(1).min()
    if cosine < 0.98:
        raise SystemExit(f"int8 graph too far from fp32: min cosine {cosine}")
    for row in range(len(ids)):
        length = int(mask[row].sum())
        alone = run_graph(int8_bytes, ids[row:row + 1, :length], mask[row:row + 1, :length])
        if float((alone[0] * batched[row]).sum()) < 0.99999:
            raise SystemExit("int8 graph: a row's vector depends on its batch")
    return cosine


def main():
    if len(sys.argv) not in (2, 3):
        raise SystemExit(__doc__)
    model_dir = Path(sys.argv[1])
    out_dir = Path(sys.argv[2]) if len(sys.argv) == 3 else model_dir
    out, out_int8 = out_dir / "model.onnx", out_dir / "model-int8.onnx"
    config = json.loads((model_dir / "config.json").read_text())
    weights = load_file(str(model_dir / "model.safetensors"))
    model = build(weights, config)
    onnx.checker.check_model(model)
    data = model.SerializeToString()
    cosine = check(data, weights, config)
    write(out, data)
    print(f"wrote {out} ({len(data) / 1e6:.1f} MB); min cosine to the NumPy reference {cosine:.6f}")
    int8 = build_int8(weights, config)
    onnx.checker.check_model(int8)
    int8_data = int8.SerializeToString()
    cosine = check_int8(int8_data, data, config)
    write(out_int8, int8_data, shared=out.with_suffix(".onnx.data"))
    print(f"wrote {out_int8} ({len(int8_data) / 1e6:.1f} MB); min cosine to the fp32 graph {cosine:.4f}")


# A table at least this large (the word embeddings of a large vocabulary) is written beside the
# graph, as ONNX external data: xsignal passes the table to every session itself (read from
# model.safetensors), so ONNX Runtime reads that file only with one session, and the graph it parses
# stays small. Both graphs hold the same fp32 table, so the int8 graph names the fp32 graph's file.
EXTERNAL_BYTES = 64 << 20


def write(path, data, shared=None):
    """Writes the graph `data` to `path`, its large table to `path`.data, or to `shared` (a file
    written beside another graph) when that holds the same bytes."""
    model = onnx.load_from_string(data)
    large = [t for t in model.graph.initializer
             if t.name == "word_embeddings" and len(t.raw_data) >= EXTERNAL_BYTES]
    tmp = path.with_suffix(".onnx.tmp")
    own = path.with_suffix(".onnx.data")
    side = own
    if large:
        from onnx.external_data_helper import set_external_data
        table = large[0]
        if shared is not None and shared.is_file() and shared.read_bytes() == table.raw_data:
            side = shared
        else:
            side_tmp = path.with_suffix(".onnx.data.tmp")
            side_tmp.write_bytes(table.raw_data)
            side_tmp.replace(side)
        set_external_data(table, location=side.name, offset=0, length=len(table.raw_data))
        table.ClearField("raw_data")
        table.data_location = onnx.TensorProto.EXTERNAL
        tmp.write_bytes(model.SerializeToString())
    else:
        tmp.write_bytes(data)
    if (not large or side != own) and own.exists():
        own.unlink()
    tmp.replace(path)


if __name__ == "__main__":
    main()

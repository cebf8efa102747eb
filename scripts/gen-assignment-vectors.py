#!/usr/bin/env python3
"""Canary assignment reference vectors, computed independently of the TypeScript code.

bucket = uint32 big-endian of the first 4 bytes of sha256("<promotionId>:<key>") % 10000.
Writes test/fixtures/serving/assignment-vectors.json; regenerate here, never by hand.
"""
import hashlib
import json
import pathlib

CASES = [
    ("3f2a8c1e-0000-4000-8000-000000000001", "user-42"),
    ("3f2a8c1e-0000-4000-8000-000000000001", "req-1"),
    ("promo", "k"),
    ("b6f1e2d3-9a7c-4e5f-8123-456789abcdef", "sim-7-1234"),
    ("p", "\u00fcn\u00efcode"),
]

vectors = []
for promotion_id, key in CASES:
    digest = hashlib.sha256(f"{promotion_id}:{key}".encode("utf-8")).digest()
    vectors.append({"promotionId": promotion_id, "key": key, "bucket": int.from_bytes(digest[:4], "big") % 10000})

out = pathlib.Path(__file__).resolve().parent.parent / "test" / "fixtures" / "serving" / "assignment-vectors.json"
out.write_text(json.dumps(vectors, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

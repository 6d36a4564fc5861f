#!/usr/bin/env python3
"""Writes assignment.json and shadow.json: independent reference buckets for the router's
assignment rule and its shadow cohort rule.

bucket        = u64_big_endian(SHA-256(utf8(salt + ":" + unit_id))[0..8]) % 10000
shadow bucket = u64_big_endian(SHA-256(utf8(salt + ":shadow:" + name + ":" + unit_id))[0..8]) % 10000

This uses only Python's hashlib, never the Rust code under test, so the Rust tests that read
the file check the implementation against a second one. Run: python3 gen_assignment.py (writes), python3 gen_assignment.py --check (compares).
"""
import hashlib
import json
import os
import sys


def bucket(salt: str, unit_id: str) -> int:
    digest = hashlib.sha256((salt + ":" + unit_id).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % 10000


def shadow_bucket(salt: str, name: str, unit_id: str) -> int:
    digest = hashlib.sha256((salt + ":shadow:" + name + ":" + unit_id).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % 10000


SHADOW_CASES = [
    ("imgclf-lr-1", "next", "alice"),
    ("imgclf-lr-1", "next", "bob"),
    ("imgclf-lr-1", "other", "alice"),
    ("imgclf-lr-2", "next", "alice"),
    ("s", "n", "42"),
    ("", "next", "alice"),
    ("a:b", "c:d", "e"),
    ("imgclf-lr-1", "next", "üsér-名前"),
    ("imgclf-lr-1", "next", "a" * 256),
    ("demo-1", "llm-shadow", "user-0"),
    ("demo-1", "llm-shadow", "user-1"),
]

CASES = [
    # The contract's reference values.
    ("imgclf-lr-1", "alice"),
    ("imgclf-lr-1", "bob"),
    ("imgclf-lr-1", "üsér-名前"),
    ("imgclf-lr-2", "alice"),
    ("s", "42"),
    # Empty salt.
    ("", "alice"),
    ("", "0"),
    ("", "x"),
    # Salts and IDs with the separator inside them.
    ("a:b", "c"),
    ("a", "b:c"),
    ("imgclf-lr-1", ":"),
    # Non-ASCII IDs and salts.
    ("imgclf-lr-1", "José"),
    ("imgclf-lr-1", "Ωμέγα"),
    ("imgclf-lr-1", "ユーザー123"),
    ("imgclf-lr-1", "😀-emoji"),
    ("sälz", "user-1"),
    ("imgclf-lr-1", "\u00e9"),          # precomposed é
    ("imgclf-lr-1", "e\u0301"),         # e + combining accent: different bytes, different bucket
    # Long IDs: exactly 256 bytes (the contract's maximum) and 255.
    ("imgclf-lr-1", "a" * 256),
    ("imgclf-lr-1", "b" * 255),
    ("imgclf-lr-1", "é" * 128),         # 256 bytes of two-byte characters
    ("long-salt-" + "z" * 200, "alice"),
    # Typical ID shapes.
    ("imgclf-lr-1", "00000000-0000-4000-8000-000000000000"),
    ("imgclf-lr-1", "f3b1c2d4e5a6978812345678abcdef01"),
    ("imgclf-lr-1", "user@example.com"),
    ("imgclf-lr-1", "12345678901234567890"),
    ("imgclf-lr-1", "Alice"),           # case matters
    ("imgclf-lr-1", "alice "),          # the router trims before hashing; the rule itself does not
    ("demo-1", "user-0"),
    ("demo-1", "user-1"),
    ("demo-1", "user-2"),
    ("demo-1", "user-999"),
    ("checkout-2026", "customer/7/9"),
    ("s", "0"),
    ("s", "1"),
]


def main() -> None:
    expected = {("imgclf-lr-1", "alice"): 5364, ("imgclf-lr-1", "bob"): 6521,
                ("imgclf-lr-1", "üsér-名前"): 3315, ("imgclf-lr-2", "alice"): 7568, ("s", "42"): 2115}
    for key, want in expected.items():
        assert bucket(*key) == want, (key, bucket(*key), want)
    here = os.path.dirname(os.path.abspath(__file__))
    files = {
        "assignment.json": [{"salt": s, "unit_id": u, "bucket": bucket(s, u)} for s, u in CASES],
        "shadow.json": [{"salt": s, "name": n, "unit_id": u, "bucket": shadow_bucket(s, n, u)}
                        for s, n, u in SHADOW_CASES],
    }
    for name, rows in files.items():
        text = json.dumps(rows, ensure_ascii=False, indent=1) + "\n"
        out = os.path.join(here, name)
        if "--check" in sys.argv[1:]:
            with open(out, encoding="utf-8") as f:
                if f.read() != text:
                    sys.exit(f"{out} is out of date: run python3 {__file__}")
            print(f"{out}: {len(rows)} vectors up to date")
            continue
        with open(out, "w", encoding="utf-8") as f:
            f.write(text)
        print(f"wrote {len(rows)} vectors to {out}")


if __name__ == "__main__":
    main()

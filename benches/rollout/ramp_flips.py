#!/usr/bin/env python3
"""Simulation (not a test): users who see both arms during a 10% -> 50% canary ramp, done
(a) by a Lambda version canary deployment (CodeDeploy `Canary10Percent5Minutes`: for 5 minutes
10% of *requests* go to the new function version, whose config has the new split), and
(b) by a schedule step (every instance switches at one instant).

Users are bucketed with the router's own formula (sha256(salt:user) % 10000, control first);
each sends requests as a Poisson process. The per-request version pick of CodeDeploy is drawn
from a seeded RNG. Prints the shares of active users who saw both arms, and who went back to an
arm they had left (flip-flops), for each approach.

    python3 benches/rollout/ramp_flips.py [--users 20000] [--rate-per-min 2] [--seed 1]
"""
import argparse
import hashlib
import json
import random


def bucket(salt, user):
    return int.from_bytes(hashlib.sha256(f"{salt}:{user}".encode()).digest()[:8], "big") % 10000


def arm(b, canary):
    return "control" if b < 10000 - canary else "canary"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", type=int, default=20000)
    ap.add_argument("--rate-per-min", type=float, default=2.0, help="requests per user per minute")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    window = 5 * 60.0  # the canary phase, seconds
    tail = 5 * 60.0    # after it, everything on the new version / the step in force
    old, new = 1000, 5000
    stats = {"codedeploy": {"both": 0, "flip_flop": 0}, "schedule": {"both": 0, "flip_flop": 0}}
    active = 0
    for u in range(args.users):
        b = bucket("ramp-sim", f"user-{u}")
        t, seen = 0.0, []
        while True:
            t += rng.expovariate(args.rate_per_min / 60.0)
            if t > window + tail:
                break
            seen.append(t)
        if not seen:
            continue
        active += 1
        for approach in stats:
            arms = []
            for t in seen:
                if approach == "codedeploy":
                    version_new = t >= window or rng.random() < 0.10
                else:
                    version_new = t >= window / 2  # the step's `at`, mid-window
                arms.append(arm(b, new if version_new else old))
            if len(set(arms)) > 1:
                stats[approach]["both"] += 1
            changes = sum(1 for a, c in zip(arms, arms[1:]) if a != c)
            if changes > 1:
                stats[approach]["flip_flop"] += 1
    out = {"active_users": active, "requests_per_user_per_min": args.rate_per_min,
           "ramp": f"canary {old / 100:.0f}% -> {new / 100:.0f}%"}
    for approach, s in stats.items():
        out[approach] = {"saw_both_arms": round(s["both"] / active, 4),
                         "flip_flopped": round(s["flip_flop"] / active, 4)}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()

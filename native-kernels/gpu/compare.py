#!/usr/bin/env python3
"""Our figures beside the peer's, from the JSON lines GpuBench and peer.py wrote in the same run:

    python3 compare.py OURS.jsonl PEER.jsonl

For every (shape, batch) the peer ran: the peer's generate() tokens/s and tokens per joule, ours end to end (the
same measure: new tokens over prefill + decode time) for each of our variants, and the ratios ours / peer.
"""
import json
import sys


def rows(path):
    try:
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        return []


def main():
    ours = [r for r in rows(sys.argv[1]) if "batch" in r]
    peer = {(r["shape"], r["batch"]): r for r in rows(sys.argv[2])}
    print(f"{'shape':9s} {'batch':>5s}  {'ours (variant)':24s} {'tok/s':>8s} {'peer':>8s} {'ratio':>6s}   "
          f"{'tok/J':>6s} {'peer':>6s} {'ratio':>6s}   {'$/Mtok':>8s} {'peer':>8s}")
    for r in ours:
        p = peer.get((r["shape"], r["batch"]))
        if p is None:
            continue
        print(f"{r['shape']:9s} {r['batch']:5d}  {r['variant']:24s} {r['e2e_tok_s']:8.0f} {p['e2e_tok_s']:8.0f} "
              f"{r['e2e_tok_s'] / p['e2e_tok_s']:5.2f}x   {r['tok_per_j']:6.2f} {p['tok_per_j']:6.2f} "
              f"{r['tok_per_j'] / p['tok_per_j']:5.2f}x   {r['usd_per_mtok']:8.4f} {p['usd_per_mtok']:8.4f}")


if __name__ == "__main__":
    main()

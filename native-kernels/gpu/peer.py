#!/usr/bin/env python3
"""The PyTorch peer, measured as GpuBench measures us: transformers generate() with a static KV cache (transformers
then compiles the decode step with torch.compile and CUDA graphs), bf16, greedy, prompt 128, 128 new tokens, on the
same random-weight checkpoints GpuBench wrote. Per batch size: two warm-up generations, then generations repeated
until 2 s have passed; tokens/s = new tokens / generate() time; energy from NVML's total energy counter (read
through ctypes, as the Java side reads it through JavaCPP) over the timed generations.

    python3 peer.py DIR SHAPE BATCH...      e.g. peer.py /tmp/llama-7b-bf16 llama-7b 1 64

Prints one line per batch size and appends JSON lines to $BENCH_JSON (default /tmp/bench-peer.jsonl).
"""
import ctypes
import json
import os
import sys
import time

import torch
import transformers
from transformers import AutoModelForCausalLM

PROMPT, NEW_TOKENS, MIN_SECONDS = 128, 128, 2.0


class NvmlEnergy:
    """nvmlDeviceGetTotalEnergyConsumption (millijoules since the driver loaded) of GPU 0; None where unreadable."""

    def __init__(self):
        self.handle = None
        try:
            self.lib = ctypes.CDLL("libnvidia-ml.so.1")
            if self.lib.nvmlInit_v2() != 0:
                return
            handle = ctypes.c_void_p()
            if self.lib.nvmlDeviceGetHandleByIndex_v2(0, ctypes.byref(handle)) == 0:
                self.handle = handle
        except OSError:
            pass

    def joules(self):
        if self.handle is None:
            return float("nan")
        mj = ctypes.c_ulonglong()
        if self.lib.nvmlDeviceGetTotalEnergyConsumption(self.handle, ctypes.byref(mj)) != 0:
            return float("nan")
        return mj.value / 1000.0


def generate(model, ids):
    return model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=NEW_TOKENS,
                          min_new_tokens=NEW_TOKENS, do_sample=False, cache_implementation="static",
                          pad_token_id=0)


def main():
    path, shape, batches = sys.argv[1], sys.argv[2], [int(b) for b in sys.argv[3:]] or [1, 64]
    price = float(os.environ.get("PRICE_PER_GPU_HOUR", "2.50"))
    out = os.environ.get("BENCH_JSON", "/tmp/bench-peer.jsonl")
    energy = NvmlEnergy()
    t0 = time.time()
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.bfloat16).to("cuda").eval()
    print(f"peer: {shape} loaded in {time.time() - t0:.1f} s; torch {torch.__version__}, transformers "
          f"{transformers.__version__}, {torch.cuda.get_device_name(0)}", flush=True)
    vocab = model.config.vocab_size
    gen = torch.Generator(device="cuda").manual_seed(7)
    for batch in batches:
        ids = torch.randint(0, vocab, (batch, PROMPT), device="cuda", generator=gen)
        t0 = time.time()
        for _ in range(2):
            out_ids = generate(model, ids)
        torch.cuda.synchronize()
        warm = time.time() - t0
        assert out_ids.shape[1] == PROMPT + NEW_TOKENS, out_ids.shape
        torch.cuda.reset_peak_memory_stats()
        j0 = energy.joules()
        seconds, reps = 0.0, 0
        while seconds < MIN_SECONDS:
            torch.cuda.synchronize()
            t = time.perf_counter()
            generate(model, ids)
            torch.cuda.synchronize()
            seconds += time.perf_counter() - t
            reps += 1
        joules = energy.joules() - j0
        tokens = reps * batch * NEW_TOKENS
        tps = tokens / seconds
        row = {"engine": "peer", "shape": shape, "batch": batch, "variant": "transformers-static-compiled",
               "e2e_tok_s": tps, "tok_per_j": tokens / joules if joules > 0 else float("nan"),
               "watts": joules / seconds, "usd_per_mtok": price * seconds / 3600 / tokens * 1e6,
               "gpu_mem_gb": torch.cuda.max_memory_allocated() / 1e9, "device": torch.cuda.get_device_name(0)}
        print(f"PEER  {shape:9s} batch {batch:3d} generate() {tps:8.0f} tok/s  {row['tok_per_j']:6.2f} tok/J "
              f"{row['watts']:4.0f} W  ${row['usd_per_mtok']:.4f}/Mtok  peak memory {row['gpu_mem_gb']:.1f} GB "
              f"({reps} x {batch * NEW_TOKENS} tokens; warm-ups incl. compile {warm:.0f} s)", flush=True)
        with open(out, "a") as f:
            f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()

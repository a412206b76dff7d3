#!/usr/bin/env python3
"""PyTorch peer of benchmarks/src/model-bench.ts: the same GPT-2-style model and step.

Reference config (design/compute.md): d 128, 4 layers, 4 heads, context 128, vocab 64, batch 16,
tied head, tanh-GELU MLP of width 4·d, pre-LayerNorm, AdamW (betas 0.9/0.95), global-norm clip 1.0.
One thread by default (`--threads`). Prints one JSON object as its last line:
{"train": {"secondsPerStep", "tokensPerSecond"}, "sampling": [{"batch", "tokensPerSecond"}],
 "blas": {...}, ...}; with `--blas-only`, only {"torch", "threads", "blas"}.
Needs Debian's python3-torch with libopenblas0-pthread (without OpenBLAS torch is ~20x slower).

"blas" says what PyTorch's matmuls really run on, because Debian's torch is built against the
generic libblas.so.3 (`torch.__config__.show()` says only BLAS_INFO=generic) and the alternatives
system picks OpenBLAS or the reference BLAS at run time: the shared libraries mapped into this
process whose names mention blas/mkl/blis, OpenBLAS's own thread count, and the speed of a 256^3
float32 matmul. benchmarks/src/torch-reference.ts decides from it whether the run is a fair peer.

The thread count is applied to OpenBLAS too (OPENBLAS_NUM_THREADS, set before torch loads it):
torch.set_num_threads alone does not reach the BLAS behind the generic interface, which then
uses every core.
"""
import argparse
import ctypes
import json
import math
import os
import re
import sys
import time


def parse_args(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument('--threads', type=int, default=1)
    ap.add_argument('--steps', type=int, default=5)
    ap.add_argument('--batch', type=int, default=16)
    ap.add_argument('--new-tokens', type=int, default=127)
    ap.add_argument('--d-model', type=int, default=128)
    ap.add_argument('--layers', type=int, default=4)
    ap.add_argument('--heads', type=int, default=4)
    ap.add_argument('--blas-only', action='store_true',
                    help='only report the BLAS probe (no model runs)')
    return ap.parse_args(argv)


ARGS = parse_args(sys.argv[1:]) if __name__ == '__main__' else None
if ARGS is not None:
    # Before torch loads libblas: OpenBLAS reads its thread count once, at load time.
    os.environ['OPENBLAS_NUM_THREADS'] = str(ARGS.threads)

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402


def blas_probe():
    """What torch's matmuls run on: mapped BLAS libraries, OpenBLAS threads, 256^3 GFLOP/s."""
    n = 256
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(3):
        a @ b
    best = float('inf')
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(4):
            a @ b
        best = min(best, (time.perf_counter() - t0) / 4)
    libraries = set()
    try:
        with open('/proc/self/maps') as maps:
            for line in maps:
                path = line.split()[-1] if len(line.split()) >= 6 else ''
                name = os.path.basename(path).lower()
                if any(k in name for k in ('blas', 'mkl', 'blis', 'lapack')):
                    libraries.add(path)
    except OSError:
        pass
    threads = None
    for path in sorted(libraries):
        if 'openblas' in os.path.basename(path).lower():
            try:
                threads = int(ctypes.CDLL(path).openblas_get_num_threads())
                break
            except (OSError, AttributeError):
                pass
    build = re.search(r'BLAS_INFO=([^,\s]+)', torch.__config__.show())
    return {
        'libraries': sorted(libraries),
        'openblasThreads': threads,
        'probeGflops': 2 * n ** 3 / best / 1e9,
        'buildBlasInfo': build.group(1) if build else None,
    }


class Block(nn.Module):
    def __init__(self, d, h, f):
        super().__init__()
        self.h = h
        self.norm1 = nn.LayerNorm(d, eps=1e-5)
        self.qkv = nn.Linear(d, 3 * d)
        self.o = nn.Linear(d, d)
        self.norm2 = nn.LayerNorm(d, eps=1e-5)
        self.up = nn.Linear(d, f)
        self.down = nn.Linear(f, d)

    def attend(self, x, cache=None):
        b, t, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).split(d, dim=2)
        shape = (b, t, self.h, d // self.h)
        q, k, v = (z.view(shape).transpose(1, 2) for z in (q, k, v))
        if cache is not None:
            if cache.get('k') is not None:
                k = torch.cat([cache['k'], k], dim=2)
                v = torch.cat([cache['v'], v], dim=2)
            cache['k'], cache['v'] = k, v
        causal = cache is None or t > 1
        y = F.scaled_dot_product_attention(q, k, v, is_causal=causal) if hasattr(
            F, 'scaled_dot_product_attention') else self.naive(q, k, v, causal)
        return self.o(y.transpose(1, 2).reshape(b, t, d))

    @staticmethod
    def naive(q, k, v, causal):
        s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
        if causal:
            t, u = s.shape[-2], s.shape[-1]
            mask = torch.ones(t, u, dtype=torch.bool).tril(u - t)
            s = s.masked_fill(~mask, float('-inf'))
        return s.softmax(-1) @ v

    def forward(self, x, cache=None):
        x = x + self.attend(x, cache)
        return x + self.down(F.gelu(self.up(self.norm2(x)), approximate='tanh'))


class GPT(nn.Module):
    def __init__(self, vocab=64, d=128, layers=4, heads=4, context=128):
        super().__init__()
        self.embed = nn.Embedding(vocab, d)
        self.pos = nn.Embedding(context, d)
        self.blocks = nn.ModuleList(Block(d, heads, 4 * d) for _ in range(layers))
        self.final_norm = nn.LayerNorm(d, eps=1e-5)

    def forward(self, ids, start=0, caches=None):
        t = ids.shape[1]
        x = self.embed(ids) + self.pos(torch.arange(start, start + t))
        for i, block in enumerate(self.blocks):
            x = block(x, None if caches is None else caches[i])
        return self.final_norm(x) @ self.embed.weight.T


SAMPLING_RUNS = 3  # timed sampling runs per batch size after a warm-up; the best one is reported


def main(args):
    torch.set_num_threads(args.threads)
    blas = blas_probe()
    if args.blas_only:
        print(json.dumps({'torch': torch.__version__, 'threads': args.threads, 'blas': blas}))
        return
    torch.manual_seed(0)
    model = GPT(d=args.d_model, layers=args.layers, heads=args.heads)
    params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.95), weight_decay=0.0)
    ids = torch.randint(0, 64, (args.batch, 128))

    def step():
        logits = model(ids)
        loss = F.cross_entropy(logits[:, :-1].reshape(-1, 64), ids[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    step()
    t0 = time.perf_counter()
    for _ in range(args.steps):
        step()
    sps = (time.perf_counter() - t0) / args.steps
    sampling = []
    with torch.no_grad():
        for b in (16, 64):
            # Best of SAMPLING_RUNS timed runs after one warm-up run, as the TypeScript side
            # does: on a shared machine the best run is the one least disturbed by other jobs.
            best = float('inf')
            for run in range(1 + SAMPLING_RUNS):
                caches = [dict() for _ in model.blocks]
                tok = torch.randint(0, 64, (b, 1))
                t0 = time.perf_counter()
                for pos in range(args.new_tokens):
                    logits = model(tok, start=pos, caches=caches)[:, -1]
                    tok = torch.multinomial(logits.softmax(-1), 1)
                if run > 0:
                    best = min(best, time.perf_counter() - t0)
            sampling.append({'batch': b, 'newTokens': args.new_tokens,
                             'tokensPerSecond': b * args.new_tokens / best})
    print(json.dumps({
        'torch': torch.__version__, 'threads': args.threads, 'numParameters': params,
        'train': {'batch': args.batch, 'context': 128, 'secondsPerStep': sps,
                  'tokensPerSecond': args.batch * 128 / sps},
        'sampling': sampling, 'blas': blas,
    }))


if __name__ == '__main__':
    main(ARGS)

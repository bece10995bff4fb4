#!/usr/bin/env python3
"""PyTorch peer for frugal's transformer benchmarks (run with Debian's
/usr/bin/python3 and OMP_WAIT_POLICY=PASSIVE).

  train:  tokens/s of nanoGPT's CPU shakespeare-char configuration (GPT, 4
          layers, 4 heads, 128 embedding, block 64, batch 12, AdamW), timed
          over 50 steps after 5 warm-up steps, on random tokens of vocab 65.
  decode: tokens/s of eager decoding with a preallocated KV cache for the
          stories15M shape (LLaMA: 288, 6 layers, 6 heads, hidden 768, vocab
          32000) and GPT-2 small (768, 12 layers, 12 heads, vocab 50257), at
          batch 1 and 8, context 256 and 1024 (cache filled with random
          entries, 32 timed steps), and prefill tokens/s of a 512-token prompt.
usage: torch_lm.py train|decode [--threads 2]
"""
import argparse
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(s, D, H, hidden, llama, kvh):
        super().__init__()
        s.D, s.H, s.hs, s.kvh, s.llama = D, H, D // H, kvh, llama
        s.n1 = nn.LayerNorm(D)  # llama uses its weight as an RMSNorm gain (see norm)
        s.q = nn.Linear(D, D, bias=not llama)
        s.k = nn.Linear(D, kvh * s.hs, bias=not llama)
        s.v = nn.Linear(D, kvh * s.hs, bias=not llama)
        s.o = nn.Linear(D, D, bias=not llama)
        s.n2 = nn.LayerNorm(D)
        s.w1 = nn.Linear(D, hidden, bias=not llama)
        s.w2 = nn.Linear(hidden, D, bias=not llama)
        s.w3 = nn.Linear(D, hidden, bias=False) if llama else None

    def norm(s, n, x):
        if s.llama:
            return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * n.weight
        return n(x)

    def rope(s, x, pos):
        hs = x.shape[-1]
        inv = 1.0 / (10000.0 ** (torch.arange(0, hs, 2).float() / hs))
        ang = pos[:, None].float() * inv[None]
        c, si = ang.cos(), ang.sin()
        x0, x1 = x[..., 0::2], x[..., 1::2]
        return torch.stack((x0 * c - x1 * si, x0 * si + x1 * c), -1).flatten(-2)

    def forward(s, x, cache=None, pos0=0):
        B, T, D = x.shape
        h = s.norm(s.n1, x)
        q = s.q(h).view(B, T, s.H, s.hs).transpose(1, 2)
        k = s.k(h).view(B, T, s.kvh, s.hs).transpose(1, 2)
        v = s.v(h).view(B, T, s.kvh, s.hs).transpose(1, 2)
        if s.llama:
            pos = torch.arange(pos0, pos0 + T)
            q, k = s.rope(q, pos), s.rope(k, pos)
        if cache is not None:
            kc, vc = cache
            kc[:, :, pos0:pos0 + T] = k
            vc[:, :, pos0:pos0 + T] = v
            k, v = kc[:, :, :pos0 + T], vc[:, :, :pos0 + T]
        if s.kvh != s.H:
            k = k.repeat_interleave(s.H // s.kvh, 1)
            v = v.repeat_interleave(s.H // s.kvh, 1)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(s.hs)
        if T > 1:
            S = k.shape[2]
            mask = torch.ones(T, S, dtype=torch.bool).tril(S - T)
            att = att.masked_fill(~mask, float("-inf"))
        a = (att.softmax(-1) @ v).transpose(1, 2).reshape(B, T, D)
        x = x + s.o(a)
        h = s.norm(s.n2, x)
        f = F.silu(s.w1(h)) * s.w3(h) if s.llama else F.gelu(s.w1(h), approximate="tanh")
        return x + s.w2(f)


class LM(nn.Module):
    def __init__(s, V, D, L, H, hidden, S, llama, kvh=None):
        super().__init__()
        s.llama = llama
        s.emb = nn.Embedding(V, D)
        s.pos = None if llama else nn.Embedding(S, D)
        s.blocks = nn.ModuleList(Block(D, H, hidden, llama, kvh or H) for _ in range(L))
        s.nf = nn.LayerNorm(D)

    def forward(s, idx, caches=None, pos0=0):
        x = s.emb(idx)
        if s.pos is not None:
            x = x + s.pos(torch.arange(pos0, pos0 + idx.shape[1]))
        for i, b in enumerate(s.blocks):
            x = b(x, caches[i] if caches else None, pos0)
        x = s.blocks[0].norm(s.nf, x)
        return x @ s.emb.weight.T


def train():
    torch.manual_seed(0)
    m = LM(65, 128, 4, 4, 512, 64, llama=False)
    opt = torch.optim.AdamW(m.parameters(), lr=1e-3, betas=(0.9, 0.99), weight_decay=0.1)
    B, T = 12, 64
    for i in range(55):
        if i == 5:
            t0 = time.time()
        x = torch.randint(0, 65, (B, T))
        y = torch.randint(0, 65, (B, T))
        loss = F.cross_entropy(m(x).view(-1, 65), y.view(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        opt.step()
    dt = time.time() - t0
    print("torch train: %.0f tokens/s (%.1f ms/iter)" % (50 * B * T / dt, 1000 * dt / 50))


@torch.no_grad()
def decode():
    for name, V, D, L, H, hidden, llama in (("15m", 32000, 288, 6, 6, 768, True),
                                            ("gpt2", 50257, 768, 12, 12, 3072, False)):
        torch.manual_seed(0)
        m = LM(V, D, L, H, hidden, 1024, llama).eval()
        for B in (1, 8):
            for ctx in (256, 1024):
                caches = [(torch.randn(B, H, ctx, D // H), torch.randn(B, H, ctx, D // H)) for _ in range(L)]
                fill = ctx - 32
                tok = torch.zeros(B, 1, dtype=torch.long)
                m(tok, caches, fill)
                t0 = time.time()
                for i in range(1, 32):
                    m(tok, caches, fill + i)
                dt = (time.time() - t0) / 31
                print("| %s | %d | %d | %.1f | %.2f |" % (name, B, ctx, B / dt, 1000 * dt), flush=True)
        caches = [(torch.zeros(1, H, 512, D // H), torch.zeros(1, H, 512, D // H)) for _ in range(L)]
        best = 1e9
        for _ in range(3):
            t0 = time.time()
            m(torch.randint(0, V, (1, 512)), caches, 0)
            best = min(best, time.time() - t0)
        print("torch prefill %s: 512 tokens %.0f tok/s" % (name, 512 / best), flush=True)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["train", "decode"])
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    train() if a.what == "train" else decode()

#!/usr/bin/env python3
"""nanoGPT's model and CPU shakespeare-char recipe in PyTorch, as a peer for
`frugal train-lm` (same data split, configuration and evaluation).

Model as nanoGPT's model.py with bias=False: token + position embeddings,
pre-LayerNorm blocks (no bias), causal self-attention, exact GELU MLP, tied
classifier, init normal(0.02) and 0.02/sqrt(2 n_layer) on residual
projections. Recipe: 4 layers, 4 heads, 128 embedding, block 64, batch 12,
2000 iterations, AdamW lr 1e-3 (betas 0.9/0.99, weight decay 0.1 on 2-d
tensors), warmup 100, cosine to 1e-4, clip 1.0, dropout 0. Reports the loss
estimated on 20 validation batches (as nanoGPT prints it) and on the whole
validation split in non-overlapping windows (as frugal's final number).

--arch llama swaps the model for the LLaMA form that `frugal train-lm --arch
llama` builds, same recipe: RMSNorm (eps 1e-5), rotary embeddings (theta
10000, adjacent pairs as llama2.c rotates them) instead of learned
positions, SwiGLU MLP with hidden 352 (8*128/3 rounded up to a multiple of
32), no biases, tied classifier, the same init (0.02; 0.02/sqrt(2 n_layer)
on o_proj and down_proj).
usage: torch_nanogpt.py [--arch gpt2|llama] [--seed S] [--iters N] [--threads 2]
"""
import argparse
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class LN(nn.Module):
    def __init__(s, d):
        super().__init__()
        s.weight = nn.Parameter(torch.ones(d))

    def forward(s, x):
        return F.layer_norm(x, s.weight.shape, s.weight, None, 1e-5)


class Block(nn.Module):
    def __init__(s, D, H):
        super().__init__()
        s.H = H
        s.ln_1, s.ln_2 = LN(D), LN(D)
        s.c_attn = nn.Linear(D, 3 * D, bias=False)
        s.c_proj = nn.Linear(D, D, bias=False)
        s.c_fc = nn.Linear(D, 4 * D, bias=False)
        s.m_proj = nn.Linear(4 * D, D, bias=False)

    def forward(s, x):
        B, T, D = x.shape
        q, k, v = s.c_attn(s.ln_1(x)).split(D, dim=2)
        q, k, v = (t.view(B, T, s.H, D // s.H).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(D // s.H)
        att = att.masked_fill(torch.ones(T, T, dtype=torch.bool).tril().logical_not(), float("-inf"))
        y = (att.softmax(-1) @ v).transpose(1, 2).reshape(B, T, D)
        x = x + s.c_proj(y)
        return x + s.m_proj(F.gelu(s.c_fc(s.ln_2(x))))


class GPT(nn.Module):
    def __init__(s, V, S, L, H, D):
        super().__init__()
        s.wte, s.wpe = nn.Embedding(V, D), nn.Embedding(S, D)
        s.h = nn.ModuleList(Block(D, H) for _ in range(L))
        s.ln_f = LN(D)
        for n, p in s.named_parameters():
            if p.dim() == 2:
                std = 0.02 / math.sqrt(2 * L) if n.endswith("c_proj.weight") or n.endswith("m_proj.weight") else 0.02
                nn.init.normal_(p, 0.0, std)

    def forward(s, idx):
        x = s.wte(idx) + s.wpe(torch.arange(idx.shape[1]))
        for b in s.h:
            x = b(x)
        return s.ln_f(x) @ s.wte.weight.T


class RMS(nn.Module):
    def __init__(s, d):
        super().__init__()
        s.weight = nn.Parameter(torch.ones(d))

    def forward(s, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * s.weight


def rope(x, cos, sin):
    # x: B, H, T, hs; rotate adjacent pairs (x0, x1), (x2, x3), ...
    x0, x1 = x[..., 0::2], x[..., 1::2]
    return torch.stack((x0 * cos - x1 * sin, x0 * sin + x1 * cos), dim=-1).flatten(-2)


class LlamaBlock(nn.Module):
    def __init__(s, D, H, Hd):
        super().__init__()
        s.H = H
        s.n1, s.n2 = RMS(D), RMS(D)
        s.q_proj = nn.Linear(D, D, bias=False)
        s.k_proj = nn.Linear(D, D, bias=False)
        s.v_proj = nn.Linear(D, D, bias=False)
        s.o_proj = nn.Linear(D, D, bias=False)
        s.gate_proj = nn.Linear(D, Hd, bias=False)
        s.up_proj = nn.Linear(D, Hd, bias=False)
        s.down_proj = nn.Linear(Hd, D, bias=False)

    def forward(s, x, cos, sin):
        B, T, D = x.shape
        h = s.n1(x)
        q, k, v = (p(h).view(B, T, s.H, D // s.H).transpose(1, 2)
                   for p in (s.q_proj, s.k_proj, s.v_proj))
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(D // s.H)
        att = att.masked_fill(torch.ones(T, T, dtype=torch.bool).tril().logical_not(), float("-inf"))
        y = (att.softmax(-1) @ v).transpose(1, 2).reshape(B, T, D)
        x = x + s.o_proj(y)
        h = s.n2(x)
        return x + s.down_proj(F.silu(s.gate_proj(h)) * s.up_proj(h))


class Llama(nn.Module):
    def __init__(s, V, S, L, H, D):
        super().__init__()
        Hd = (8 * D // 3 + 31) // 32 * 32
        s.wte = nn.Embedding(V, D)
        s.h = nn.ModuleList(LlamaBlock(D, H, Hd) for _ in range(L))
        s.norm = RMS(D)
        hs = D // H
        inv = 1.0 / (10000.0 ** (torch.arange(0, hs, 2).float() / hs))
        ang = torch.arange(S).float()[:, None] * inv[None, :]
        s.register_buffer("cos", ang.cos())
        s.register_buffer("sin", ang.sin())
        for n, p in s.named_parameters():
            if p.dim() == 2:
                std = 0.02 / math.sqrt(2 * L) if n.endswith("o_proj.weight") or n.endswith("down_proj.weight") else 0.02
                nn.init.normal_(p, 0.0, std)

    def forward(s, idx):
        T = idx.shape[1]
        x = s.wte(idx)
        for b in s.h:
            x = b(x, s.cos[:T], s.sin[:T])
        return s.norm(x) @ s.wte.weight.T


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", choices=("gpt2", "llama"), default="gpt2")
    ap.add_argument("--seed", type=int, default=1337)
    ap.add_argument("--iters", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data", default="data/tinyshakespeare.txt")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    text = open(a.data, encoding="utf-8").read()
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    data = torch.tensor([stoi[c] for c in text], dtype=torch.long)
    n = int(0.9 * len(data))
    train, val = data[:n], data[n:]
    B, T = 12, 64
    m = (GPT if a.arch == "gpt2" else Llama)(len(chars), T, 4, 4, 128)
    decay = [p for p in m.parameters() if p.dim() >= 2]
    nodecay = [p for p in m.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": nodecay, "weight_decay": 0.0}], lr=1e-3, betas=(0.9, 0.99))

    def batch(d):
        ix = torch.randint(len(d) - T, (B,))
        return torch.stack([d[i:i + T] for i in ix]), torch.stack([d[i + 1:i + 1 + T] for i in ix])

    def lr_at(it):
        if it < 100:
            return 1e-3 * (it + 1) / 101
        r = (it - 100) / (a.iters - 100)
        return 1e-4 + 0.5 * (1 + math.cos(math.pi * r)) * (1e-3 - 1e-4)

    t0 = time.time()
    for it in range(a.iters):
        for g in opt.param_groups:
            g["lr"] = lr_at(it)
        x, y = batch(train)
        loss = F.cross_entropy(m(x).view(-1, len(chars)), y.view(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
        opt.step()
    dt = time.time() - t0
    m.eval()
    with torch.no_grad():
        est = sum(F.cross_entropy(m(x).view(-1, len(chars)), y.view(-1)).item()
                  for x, y in (batch(val) for _ in range(20))) / 20
        tot, cnt = 0.0, 0
        for s0 in range(0, len(val) - 1, T):
            t = min(T, len(val) - 1 - s0)
            lg = m(val[s0:s0 + t][None])[0]
            tot += F.cross_entropy(lg, val[s0 + 1:s0 + 1 + t], reduction="sum").item()
            cnt += t
    print("torch %s seed %d: %d params, %d iters in %.1f s (%.0f tokens/s); val loss est %.4f; full val %.4f"
          % ("nanogpt" if a.arch == "gpt2" else "llama", a.seed,
             sum(p.numel() for p in m.parameters()), a.iters, dt, a.iters * B * T / dt, est, tot / cnt))


if __name__ == "__main__":
    main()

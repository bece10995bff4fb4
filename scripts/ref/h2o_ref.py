#!/usr/bin/env python3
"""Independent PyTorch (float64) masking simulation of KV-cache eviction.

Cross-checks `frugal kv-eval` (src/methods/kv/kv_eval.c with the policies of
src/methods/kv/kv_policies.c): for the same llama2.c checkpoint and the same
token windows it computes the streaming perplexity of each policy at each
budget. Written from the definitions in frugal's headers and docs
(methods/kv_eval.h, kv.h, docs/h2o.md) and from the authors' masking
simulation (FMInference/H2O, h2o_hf/utils_hh/modify_llama.py), not by
translating frugal's C: there is no cache here, only a mask over every
position ever seen, per window, layer and KV head; keys and values of
evicted tokens stay in memory and are excluded from the softmax.

The model is llama2c_ref.py's (the checkpoint loader is imported from it):
RMSNorm, interleaved rotary embeddings, grouped-query attention, SwiGLU.

Streaming evaluation (frugal's): windows of L tokens, the first P prefilled
with full causal attention, then compressed at once by the policy; the
remaining L - P tokens are decoded one at a time; each of the L - P
next-token predictions (the first from the last prefill position) is scored
by its NLL; perplexity = exp(mean NLL over all windows and predictions).

frugal's semantics, implemented here for the exact check:
  - Budget: b = round(f * L) (halves away from 0), clamped to 1..L; h2o and
    h2o-anti: heavy = b // 2, recent = b - b // 2; heavy: all heavy; every
    other policy: all recent. A KV head holds at most b tokens between steps.
  - Protected tokens: local: the last b; h2o, h2o-anti: the last `recent`;
    sink: the first min(4, b - 1) plus the last b - sinks; heavy, tova: the
    newest token only. "Last r" counts the newest token.
  - Scores are per KV head: the attention weights of the query heads that
    share it, summed. h2o, heavy, h2o-anti accumulate them over every step
    since the token arrived; tova keeps only the latest step's.
  - Prefill: a token's score starts as the attention it received within the
    prompt (the column sum of the prompt's causal attention, summed over
    the query heads of its KV head). If the prompt exceeds the budget, keep
    the protected ones, then the rest by score (largest first; h2o-anti:
    smallest first; local and sink: newest first), ties to the newer.
  - Decode step at position p: the query attends to the kept tokens and to
    itself (b + 1 tokens once the head is full); the kept tokens' scores
    add this step's weights (below 1e-30 counted as 0, as frugal's float32
    engine does); the new token's score starts as the weight it gave
    itself; if the head now holds b + 1 tokens, one unprotected token is
    evicted: the lowest score (h2o-anti: the highest; local, sink: the
    oldest), ties to the older.

Where this differs from the authors' masking simulation (utils_hh), each
available as --variant authors (per query head, as their code, which has no
GQA) or authors-kv (the same masking with frugal's per-KV-head sums), for h2o
and local only:
  1. Tokens attended. Authors: the mask for the next token keeps `heavy`
     top-scored tokens plus the last `recent` positions counting the new
     token, so a step attends to exactly heavy + recent tokens. frugal:
     heavy + recent cached tokens plus the new one (as the authors'
     real-drop cache, utils_real_drop, does).
  2. The token leaving the recent window. Authors: the heavy candidates are
     positions < n - recent of the n tokens before the new one, while the
     window starts at n - recent + 1: the token at n - recent is masked for
     one step (its score kept, not updated) and competes from the next step
     on. frugal: it is a candidate at once, with this step's weight added.
  3. Heads. Authors: per query head (no GQA). frugal: per KV head, the
     weights of the query heads sharing it summed.
  4. Budget. Authors: int(ratio * prompt length) each for heavy and recent.
     Here both variants use frugal's token counts, so only the masking
     differs.
  5. Ties. Authors: torch.topk (unspecified order). frugal: the older token
     goes first.

Input (written by tests/slow_h2o_ref.c; '#' lines are comments):
  window L prompt P windows N
  ids ID... (one line of L ids per window)
  run POLICY FRACTION [PPL]     (one line per run; PPL: frugal's, optional)
Output: the same run lines with this script's perplexity and mean NLL:
  run POLICY FRACTION PPL NLL
and, when frugal's PPL was given, a table of both on stdout.

usage: h2o_ref.py MODEL.bin IN.txt OUT.txt [--variant frugal|authors|authors-kv]
Exit codes: 0 ok, 2 bad input, 77 torch is not installed.
"""
import argparse
import math
import os
import sys

try:
    import torch
except ImportError:
    sys.stderr.write("h2o_ref.py: torch is not installed (Debian: python3-torch)\n")
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llama2c_ref import load  # noqa: E402

POLICIES = ("full", "local", "h2o", "heavy", "h2o-anti", "sink", "tova")
NEG = float("-inf")


class Model:
    def __init__(self, path):
        cfg, w = load(path)
        self.cfg = cfg
        self.w = {k: torch.from_numpy(v.copy()) for k, v in w.items()}
        hs = cfg["hs"]
        i = torch.arange(hs // 2, dtype=torch.float64)
        self.freq = 10000.0 ** (-2.0 * i / hs)

    def rope(self, x, pos):
        # x: (..., T, heads, hs), pos: (T,); rotates pairs (2i, 2i+1)
        ang = pos.to(torch.float64)[:, None] * self.freq[None, :]
        c, s = torch.cos(ang)[:, None, :], torch.sin(ang)[:, None, :]
        x0, x1 = x[..., 0::2], x[..., 1::2]
        out = torch.empty_like(x)
        out[..., 0::2] = x0 * c - x1 * s
        out[..., 1::2] = x0 * s + x1 * c
        return out

    @staticmethod
    def rmsnorm(x, g, eps=1e-5):
        return x / torch.sqrt((x * x).mean(-1, keepdim=True) + eps) * g

    def qkv(self, l, x, pos):
        """x: (B, T, dim) -> q (B, H, T, hs), k, v (B, KVH, T, hs)."""
        c, w = self.cfg, self.w
        B, T, _ = x.shape
        h = self.rmsnorm(x, w["rms_att"][l])
        q = (h @ w["wq"][l].T).reshape(B, T, c["H"], c["hs"])
        k = (h @ w["wk"][l].T).reshape(B, T, c["KVH"], c["hs"])
        v = (h @ w["wv"][l].T).reshape(B, T, c["KVH"], c["hs"])
        q, k = self.rope(q, pos), self.rope(k, pos)
        return q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)

    def finish(self, l, x, o):
        """Output projection and feed-forward of layer l; o: (B, H, T, hs)."""
        w = self.w
        B, H, T, hs = o.shape
        x = x + o.transpose(1, 2).reshape(B, T, H * hs) @ w["wo"][l].T
        h = self.rmsnorm(x, w["rms_ffn"][l])
        a = h @ w["w1"][l].T
        return x + ((a * torch.sigmoid(a)) * (h @ w["w3"][l].T)) @ w["w2"][l].T

    def logits(self, x):
        return self.rmsnorm(x, self.w["rms_f"]) @ self.w["cls"].T


def budget(policy, f, L):
    """(heavy, recent) token counts of a budget f of the window."""
    b = min(max(int(math.floor(f * L + 0.5)), 1), L)
    if policy in ("h2o", "h2o-anti"):
        return b // 2, b - b // 2
    if policy == "heavy":
        return b, 0
    return 0, b


def protection(policy, heavy, recent):
    """(budget, sinks, recent window counting the newest token)."""
    b = heavy + recent
    sink = 0
    if policy == "local":
        r = b
    elif policy in ("h2o", "h2o-anti"):
        r = recent
    elif policy == "sink":
        sink = min(4, b - 1)
        r = b - sink
    else:  # heavy, tova: only the newest token
        r = 1
    return b, sink, min(max(r, 1), b)


def keep_key(policy, score, pos):
    """Higher stays longer."""
    if policy in ("local", "sink"):
        return pos.to(torch.float64).expand_as(score)
    return -score if policy == "h2o-anti" else score


class Frugal:
    """frugal's policies as masks: kept (B, G, n) and score (B, G, n) per
    layer, G = KV heads."""

    def __init__(self, policy, heavy, recent, L, rep):
        self.policy, self.L, self.rep = policy, L, rep
        if policy == "full":
            self.b, self.sink, self.r = L, 0, L
        else:
            self.b, self.sink, self.r = protection(policy, heavy, recent)

    def prefill(self, att):
        """att: (B, H, P, P) causal weights of the prompt; returns the kept
        mask and the scores (B, G, L)."""
        B, H, P, _ = att.shape
        G = H // self.rep
        mass = att.sum(2).reshape(B, G, self.rep, P).sum(2)
        score = torch.zeros(B, G, self.L, dtype=torch.float64)
        score[..., :P] = mass
        kept = torch.zeros(B, G, self.L, dtype=torch.bool)
        if P <= self.b:
            kept[..., :P] = True
            return kept, score
        pos = torch.arange(P)
        key = keep_key(self.policy, mass, pos)
        # protected first (sinks, then the recent window), then by key, ties
        # to the newer: stable sorts from the least significant criterion up
        cls = torch.zeros(P, dtype=torch.long)
        cls[P - self.r:] = 1
        cls[:self.sink] = 2
        order = torch.arange(P - 1, -1, -1).expand(B, G, P)
        k1 = torch.gather(key, -1, order)
        o1 = torch.sort(k1, dim=-1, descending=True, stable=True).indices
        order = torch.gather(order, -1, o1)
        o2 = torch.sort(cls[order], dim=-1, descending=True, stable=True).indices
        order = torch.gather(order, -1, o2)
        kept[..., :P].scatter_(-1, order[..., :self.b], True)
        return kept, score

    def step(self, kept, score, w, p):
        """w: (B, H, p + 1) weights of the new token's queries over
        positions 0..p (evicted ones 0); updates kept and score in place."""
        B, H, _ = w.shape
        G = H // self.rep
        ws = w.reshape(B, G, self.rep, p + 1).sum(2)
        if self.policy == "tova":
            score[..., :p] = torch.where(kept[..., :p], ws[..., :p], score[..., :p])
        else:
            score[..., :p] += torch.where(kept[..., :p], ws[..., :p], torch.zeros_like(ws[..., :p]))
        score[..., p] = ws[..., p]
        full = kept.sum(-1) >= self.b  # (B, G)
        kept[..., p] = True
        if self.policy == "full" or not full.any():
            return
        pos = torch.arange(self.L)
        elig = kept & (pos >= self.sink) & (pos <= p - self.r)
        key = keep_key(self.policy, score, pos)
        key = torch.where(elig, key, torch.full_like(key, math.inf))
        low = key.min(-1, keepdim=True).values
        cand = elig & (key == low)
        victim = torch.where(cand, pos, torch.full_like(pos, self.L)).min(-1).values
        # no unprotected token: the oldest non-sink goes
        other = kept & (pos >= self.sink) & (pos < p)
        oldest = torch.where(other, pos, torch.full_like(pos, self.L)).min(-1).values
        victim = torch.where(victim < self.L, victim, oldest)
        drop = torch.zeros_like(kept)
        drop.scatter_(-1, victim.clamp(max=self.L - 1)[..., None], True)
        kept &= ~(drop & full[..., None])


class Authors:
    """The authors' utils_hh masking (h2o, local): heads = query heads
    (per_kv False) or KV heads with the query heads' weights summed."""

    def __init__(self, policy, heavy, recent, L, rep, per_kv):
        if policy not in ("h2o", "local", "full"):
            raise ValueError("the authors' variant covers full, h2o and local")
        self.policy, self.L, self.rep, self.per_kv = policy, L, rep, per_kv
        self.heavy, self.recent = heavy, recent

    def _group(self, w):
        if not self.per_kv:
            return w
        B, H = w.shape[:2]
        return w.reshape(B, H // self.rep, self.rep, *w.shape[2:]).sum(2)

    def _next_mask(self, n):
        """From prev scores over n tokens: the mask over n + 1 positions
        (the next token included), as utils_hh computes it."""
        prev = self.prev[..., :n]
        mask = torch.ones(*prev.shape[:-1], n + 1, dtype=torch.float64)
        if self.policy != "full" and n > self.heavy + self.recent:
            r, hv = self.recent, self.heavy
            if r:
                mask[..., :n + 1 - r] = 0
                sel = prev[..., :n - r]
            else:
                mask[...] = 0
                sel = prev
            if hv:
                idx = torch.topk(sel, hv, dim=-1).indices
                mask.scatter_(-1, idx, 1.0)
        smask = mask[..., :n].clone()
        if self.recent:
            smask[..., n - self.recent:] = 1
        else:
            smask[...] = 1
        self.prev[..., :n] = prev * smask
        m = torch.zeros(*prev.shape[:-1], self.L, dtype=torch.bool)
        m[..., :n + 1] = mask > 0
        return m

    def prefill(self, att):
        B, H, P, _ = att.shape
        s = self._group(att.sum(2))
        self.prev = torch.zeros(*s.shape[:-1], self.L, dtype=torch.float64)
        self.prev[..., :P] = s
        return self._next_mask(P), None

    def step(self, kept, score, w, p):
        s = self._group(w)
        self.prev[..., :p + 1] = self.prev[..., :p + 1] + s
        kept.copy_(self._next_mask(p + 1))


def head_mask(kept, H, rep, p):
    """(B, G or H, L) kept -> (B, H, p + 1) allowed, the new token at p."""
    if kept.shape[1] != H:
        kept = kept.repeat_interleave(rep, dim=1)
    m = kept[..., :p + 1].clone()
    m[..., p] = True
    return m


def stream(model, ids, P, policy, f, variant):
    """Mean NLL of the streaming evaluation of ids (B, L)."""
    c = model.cfg
    B, L = ids.shape
    H, G, hs, nl = c["H"], c["KVH"], c["hs"], c["L"]
    rep = H // G
    heavy, recent = budget(policy, f, L) if policy != "full" else (L, 0)
    mk = []
    for _ in range(nl):
        if variant == "frugal":
            mk.append(Frugal(policy, heavy, recent, L, rep))
        else:
            mk.append(Authors(policy, heavy, recent, L, rep, variant == "authors-kv"))
    K = torch.zeros(nl, B, G, L, hs, dtype=torch.float64)
    V = torch.zeros_like(K)
    kept, score = [None] * nl, [None] * nl
    # prefill: full causal attention over the prompt
    x = model.w["emb"][ids[:, :P]]
    pos = torch.arange(P)
    causal = torch.triu(torch.full((P, P), NEG, dtype=torch.float64), 1)
    for l in range(nl):
        q, k, v = model.qkv(l, x, pos)
        K[l, :, :, :P], V[l, :, :, :P] = k, v
        kr, vr = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
        att = torch.softmax(q @ kr.transpose(-1, -2) / math.sqrt(hs) + causal, dim=-1)
        kept[l], score[l] = mk[l].prefill(att)
        x = model.finish(l, x, att @ vr)
    lg = model.logits(x[:, -1])
    nll = 0.0
    for j in range(L - P):
        nll += (torch.logsumexp(lg, -1) - lg.gather(-1, ids[:, P + j:P + j + 1])[:, 0]).sum().item()
        if j + 1 == L - P:
            break
        p = P + j
        x = model.w["emb"][ids[:, p:p + 1]]
        pos = torch.tensor([p])
        for l in range(nl):
            q, k, v = model.qkv(l, x, pos)
            K[l, :, :, p], V[l, :, :, p] = k[:, :, 0], v[:, :, 0]
            kr = K[l, :, :, :p + 1].repeat_interleave(rep, dim=1)
            vr = V[l, :, :, :p + 1].repeat_interleave(rep, dim=1)
            s = (q @ kr.transpose(-1, -2))[:, :, 0] / math.sqrt(hs)  # (B, H, p + 1)
            allow = head_mask(kept[l], H, rep, p)
            w = torch.softmax(torch.where(allow, s, torch.full_like(s, NEG)), dim=-1)
            if variant == "frugal":
                # frugal's engine counts a cached weight below 1e-30 as 0
                small = (w < 1e-30) & (torch.arange(p + 1) < p)
                w = torch.where(small, torch.zeros_like(w), w)
            o = (w[:, :, None, :] @ vr)  # (B, H, 1, hs)
            mk[l].step(kept[l], score[l], w, p)
            x = model.finish(l, x, o)
        lg = model.logits(x[:, -1])
    return nll / (B * (L - P))


def read_input(path):
    L = P = N = None
    ids, runs = [], []
    for line in open(path):
        t = line.split()
        if not t or t[0].startswith("#"):
            continue
        if t[0] == "window":
            L, P, N = int(t[1]), int(t[3]), int(t[5])
        elif t[0] == "ids":
            ids.append([int(v) for v in t[1:]])
        elif t[0] == "run":
            runs.append((t[1], float(t[2]), t[2], float(t[3]) if len(t) > 3 else None))
    if L is None or len(ids) != N or any(len(r) != L for r in ids) or not 1 <= P < L:
        raise ValueError("%s: need 'window L prompt P windows N' and N lines of L ids" % path)
    for r in runs:
        if r[0] not in POLICIES:
            raise ValueError("unknown policy '%s'" % r[0])
    return L, P, torch.tensor(ids, dtype=torch.long), runs


def main():
    ap = argparse.ArgumentParser(description="Masking simulation of frugal's KV-cache policies.")
    ap.add_argument("model")
    ap.add_argument("input")
    ap.add_argument("output")
    ap.add_argument("--variant", choices=("frugal", "authors", "authors-kv"), default="frugal")
    a = ap.parse_args()
    variant, args = a.variant, [a.model, a.input, a.output]
    torch.set_num_threads(1)
    try:
        L, P, ids, runs = read_input(args[1])
    except (ValueError, OSError) as e:
        sys.stderr.write("h2o_ref.py: %s\n" % e)
        return 2
    model = Model(args[0])
    if ids.max() >= model.cfg["V"] or ids.min() < 0:
        sys.stderr.write("h2o_ref.py: token id outside the vocabulary\n")
        return 2
    out = []
    print("%-9s %6s %14s %14s %10s" % ("policy", "budget", "frugal ppl", "ref ppl", "rel diff"))
    for pol, f, fs, theirs in runs:
        if variant != "frugal" and pol not in ("full", "h2o", "local"):
            continue
        nll = stream(model, ids, P, pol, f, variant)
        ppl = math.exp(nll)
        out.append("run %s %s %.12g %.12g\n" % (pol, fs, ppl, nll))
        rel = abs(ppl - theirs) / theirs if theirs else float("nan")
        print("%-9s %6s %14.6f %14.6f %10.2e" % (pol, fs, theirs or float("nan"), ppl, rel),
              flush=True)
    with open(args[2], "w") as f:
        f.write("# scripts/ref/h2o_ref.py (PyTorch %s, float64, variant %s)\n" %
                (torch.__version__, variant))
        f.writelines(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())

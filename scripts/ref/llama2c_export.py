#!/usr/bin/env python3
"""Rewrites a legacy llama2.c checkpoint in llama2.c's version 1 (f32, 256-byte
header) and version 2 (Q8_0 int8) layouts, following export.py of llama2.c:
v1 stores norms first, then embeddings and the per-layer matrices; v2 stores
the norms in f32, then each matrix (the embedding, each layer's wq ... w3)
as int8 values followed by its f32 group scales (group = 64 values, scale =
max|w| / 127). Also writes the dequantised v2 weights as a legacy file so a
test can compare frugal's v2 logits with its legacy logits of the same
numbers. usage: llama2c_export.py IN.bin OUT_PREFIX
"""
import struct
import sys

import numpy as np


def main():
    src, out = sys.argv[1], sys.argv[2]
    b = open(src, "rb").read()
    dim, hidden, L, H, KVH, V, S = struct.unpack("7i", b[:28])
    shared = V > 0
    V = abs(V)
    f = np.frombuffer(b, dtype=np.float32, offset=28)
    hs, kvd = dim // H, KVH * (dim // H)
    o = 0

    def take(*shape):
        nonlocal o
        n = int(np.prod(shape))
        a = f[o:o + n].reshape(shape).copy()
        o += n
        return a

    emb, ra, wq, wk, wv, wo = take(V, dim), take(L, dim), take(L, dim, dim), take(L, kvd, dim), take(L, kvd, dim), take(L, dim, dim)
    rf_, w1, w2, w3, rfin = take(L, dim), take(L, hidden, dim), take(L, dim, hidden), take(L, hidden, dim), take(dim)
    fr, fi = take(S, hs // 2), take(S, hs // 2)
    params = struct.pack("7i", dim, hidden, L, H, KVH, V, S)

    def header(version, extra=b""):
        h = struct.pack("I", 0x616B3432) + struct.pack("i", version) + params + struct.pack("B", int(shared)) + extra
        return h + b"\0" * (256 - len(h))

    with open(out + "_v1.bin", "wb") as g:
        g.write(header(1))
        for a in (ra, rf_, rfin, emb, wq, wk, wv, wo, w1, w2, w3):
            g.write(a.astype(np.float32).tobytes())

    gs = 64

    def q80(w):
        w = w.reshape(-1, gs)
        s = np.abs(w).max(axis=1) / 127.0
        q = np.round(w / np.where(s == 0, 1, s)[:, None]).astype(np.int8)
        return q, s.astype(np.float32), (q.astype(np.float32) * s[:, None]).reshape(-1)

    deq = {}
    with open(out + "_v2.bin", "wb") as g:
        g.write(header(2, struct.pack("i", gs)))
        for a in (ra, rf_, rfin):
            g.write(a.astype(np.float32).tobytes())
        for name, a in (("emb", emb), ("wq", wq), ("wk", wk), ("wv", wv), ("wo", wo), ("w1", w1), ("w2", w2), ("w3", w3)):
            parts = [a] if name == "emb" else list(a)
            outp = []
            for w in parts:
                q, s, d = q80(w)
                g.write(q.tobytes())
                g.write(s.tobytes())
                outp.append(d.reshape(w.shape))
            deq[name] = outp[0] if name == "emb" else np.stack(outp)
    with open(out + "_v2deq_legacy.bin", "wb") as g:
        g.write(struct.pack("7i", dim, hidden, L, H, KVH, V, S))
        for a in (deq["emb"], ra, deq["wq"], deq["wk"], deq["wv"], deq["wo"], rf_, deq["w1"], deq["w2"], deq["w3"], rfin, fr, fi):
            g.write(a.astype(np.float32).tobytes())


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Writes tiny Hugging Face-layout checkpoints and their reference logits.

For each of GPT-2 and LLaMA (with grouped-query attention) this writes
OUT/<name>/model.safetensors (the tensor names and layouts that Hugging Face
`save_pretrained` produces: GPT-2's Conv1D weights stored [in, out], LLaMA's
q/k/v/o/gate/up/down projections [out, in]), OUT/<name>/config.json, and
OUT/<name>/ref.txt with the token ids and the logits of an independent
PyTorch forward written here from the published model definitions (GPT-2:
LayerNorm, learned positions, tanh-GELU; LLaMA: RMSNorm, rotate-half RoPE,
SwiGLU, GQA). safetensors is written by hand (no extra package needed).

usage: hf_fixtures.py OUT_DIR
"""
import json
import math
import os
import struct
import sys

import torch

torch.manual_seed(0)


def write_safetensors(path, tensors, dtype=torch.float32):
    names = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16"}
    header, blobs, off = {}, [], 0
    for k, t in tensors.items():
        t = t.detach().to(dtype).contiguous()
        b = t.view(torch.uint8).numpy().tobytes() if dtype != torch.float32 else t.numpy().tobytes()
        header[k] = {"dtype": names[dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def gpt2(rnd):
    D, L, H, V, S = 32, 2, 4, 61, 16
    sd = {"wte.weight": torch.randn(V, D) * 0.2, "wpe.weight": torch.randn(S, D) * 0.2}
    for l in range(L):
        p = f"h.{l}."
        sd[p + "ln_1.weight"] = 1 + 0.1 * torch.randn(D)
        sd[p + "ln_1.bias"] = 0.1 * torch.randn(D)
        sd[p + "attn.c_attn.weight"] = torch.randn(D, 3 * D) * 0.2   # Conv1D: [in, out]
        sd[p + "attn.c_attn.bias"] = 0.1 * torch.randn(3 * D)
        sd[p + "attn.c_proj.weight"] = torch.randn(D, D) * 0.2
        sd[p + "attn.c_proj.bias"] = 0.1 * torch.randn(D)
        sd[p + "ln_2.weight"] = 1 + 0.1 * torch.randn(D)
        sd[p + "ln_2.bias"] = 0.1 * torch.randn(D)
        sd[p + "mlp.c_fc.weight"] = torch.randn(D, 4 * D) * 0.2
        sd[p + "mlp.c_fc.bias"] = 0.1 * torch.randn(4 * D)
        sd[p + "mlp.c_proj.weight"] = torch.randn(4 * D, D) * 0.2
        sd[p + "mlp.c_proj.bias"] = 0.1 * torch.randn(D)
    sd["ln_f.weight"] = 1 + 0.1 * torch.randn(D)
    sd["ln_f.bias"] = 0.1 * torch.randn(D)
    sd = {k: v.to(rnd).float() for k, v in sd.items()}
    cfg = {"model_type": "gpt2", "n_embd": D, "n_layer": L, "n_head": H, "vocab_size": V,
           "n_positions": S, "n_inner": None, "layer_norm_epsilon": 1e-5,
           "activation_function": "gelu_new", "tie_word_embeddings": True}
    tok = torch.tensor([3, 17, 5, 60, 0, 22, 9, 41, 8, 13])
    T = len(tok)
    x = sd["wte.weight"][tok] + sd["wpe.weight"][:T]
    mask = torch.triu(torch.full((T, T), float("-inf")), 1)
    hs = D // H
    for l in range(L):
        p = f"h.{l}."
        h = torch.nn.functional.layer_norm(x, (D,), sd[p + "ln_1.weight"], sd[p + "ln_1.bias"], 1e-5)
        qkv = h @ sd[p + "attn.c_attn.weight"] + sd[p + "attn.c_attn.bias"]
        q, k, v = qkv.split(D, dim=1)
        q, k, v = (t.view(T, H, hs).transpose(0, 1) for t in (q, k, v))
        a = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(hs) + mask, -1) @ v
        a = a.transpose(0, 1).reshape(T, D)
        x = x + a @ sd[p + "attn.c_proj.weight"] + sd[p + "attn.c_proj.bias"]
        h = torch.nn.functional.layer_norm(x, (D,), sd[p + "ln_2.weight"], sd[p + "ln_2.bias"], 1e-5)
        f = torch.nn.functional.gelu(h @ sd[p + "mlp.c_fc.weight"] + sd[p + "mlp.c_fc.bias"],
                                     approximate="tanh")
        x = x + f @ sd[p + "mlp.c_proj.weight"] + sd[p + "mlp.c_proj.bias"]
    x = torch.nn.functional.layer_norm(x, (D,), sd["ln_f.weight"], sd["ln_f.bias"], 1e-5)
    return sd, cfg, tok, x @ sd["wte.weight"].T


def rotate_half(x):
    a, b = x.chunk(2, dim=-1)
    return torch.cat((-b, a), dim=-1)


def llama(rnd):
    D, L, H, KVH, V, S, F = 32, 2, 4, 2, 67, 32, 48
    hs = D // H
    sd = {"model.embed_tokens.weight": torch.randn(V, D) * 0.2}
    for l in range(L):
        p = f"model.layers.{l}."
        sd[p + "input_layernorm.weight"] = 1 + 0.1 * torch.randn(D)
        sd[p + "self_attn.q_proj.weight"] = torch.randn(D, D) * 0.2
        sd[p + "self_attn.k_proj.weight"] = torch.randn(KVH * hs, D) * 0.2
        sd[p + "self_attn.v_proj.weight"] = torch.randn(KVH * hs, D) * 0.2
        sd[p + "self_attn.o_proj.weight"] = torch.randn(D, D) * 0.2
        sd[p + "post_attention_layernorm.weight"] = 1 + 0.1 * torch.randn(D)
        sd[p + "mlp.gate_proj.weight"] = torch.randn(F, D) * 0.2
        sd[p + "mlp.up_proj.weight"] = torch.randn(F, D) * 0.2
        sd[p + "mlp.down_proj.weight"] = torch.randn(D, F) * 0.2
    sd["model.norm.weight"] = 1 + 0.1 * torch.randn(D)
    sd["lm_head.weight"] = torch.randn(V, D) * 0.2
    sd = {k: v.to(rnd).float() for k, v in sd.items()}
    cfg = {"model_type": "llama", "hidden_size": D, "intermediate_size": F, "num_hidden_layers": L,
           "num_attention_heads": H, "num_key_value_heads": KVH, "vocab_size": V,
           "max_position_embeddings": S, "rms_norm_eps": 1e-6, "rope_theta": 10000.0,
           "tie_word_embeddings": False, "hidden_act": "silu"}
    tok = torch.tensor([1, 17, 5, 66, 0, 22, 9, 41, 8, 13, 2])
    T = len(tok)

    def rms(x, w):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6) * w

    inv = 1.0 / (10000.0 ** (torch.arange(0, hs, 2).float() / hs))
    ang = torch.outer(torch.arange(T).float(), inv)
    emb = torch.cat((ang, ang), dim=-1)
    cos, sin = emb.cos()[None], emb.sin()[None]
    x = sd["model.embed_tokens.weight"][tok]
    mask = torch.triu(torch.full((T, T), float("-inf")), 1)
    for l in range(L):
        p = f"model.layers.{l}."
        h = rms(x, sd[p + "input_layernorm.weight"])
        q = (h @ sd[p + "self_attn.q_proj.weight"].T).view(T, H, hs).transpose(0, 1)
        k = (h @ sd[p + "self_attn.k_proj.weight"].T).view(T, KVH, hs).transpose(0, 1)
        v = (h @ sd[p + "self_attn.v_proj.weight"].T).view(T, KVH, hs).transpose(0, 1)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(H // KVH, dim=0)
        v = v.repeat_interleave(H // KVH, dim=0)
        a = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(hs) + mask, -1) @ v
        x = x + a.transpose(0, 1).reshape(T, D) @ sd[p + "self_attn.o_proj.weight"].T
        h = rms(x, sd[p + "post_attention_layernorm.weight"])
        f = torch.nn.functional.silu(h @ sd[p + "mlp.gate_proj.weight"].T) * (h @ sd[p + "mlp.up_proj.weight"].T)
        x = x + f @ sd[p + "mlp.down_proj.weight"].T
    x = rms(x, sd["model.norm.weight"])
    return sd, cfg, tok, x @ sd["lm_head.weight"].T


def main():
    out = sys.argv[1]
    for name, fn, dt in (("hf_gpt2", gpt2, torch.float32), ("hf_llama", llama, torch.float32),
                         ("hf_llama_bf16", llama, torch.bfloat16)):
        torch.manual_seed(0)
        sd, cfg, tok, logits = fn(dt)  # weights rounded to dt; logits from the rounded weights
        d = os.path.join(out, name)
        os.makedirs(d, exist_ok=True)
        write_safetensors(os.path.join(d, "model.safetensors"), sd, dt)
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(cfg, f, indent=1)
        with open(os.path.join(d, "ref.txt"), "w") as f:
            f.write("tokens " + " ".join(str(int(t)) for t in tok) + "\n")
            for row in logits.detach().double():
                f.write(" ".join("%.9g" % float(v) for v in row) + "\n")


if __name__ == "__main__":
    with torch.no_grad():
        main()

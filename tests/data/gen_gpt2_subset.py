#!/usr/bin/python3
"""gen_gpt2_subset.py: cuts the real GPT-2 vocabulary down to what one
sample text needs, so test_tokenizer.c can check frugal's byte-level BPE
against GPT-2's own ids without shipping the 1.5 MB vocabulary.

Inputs (made outside the repository, with the npm package js-tiktoken, the
only GPT-2 vocabulary this machine can get):
  gpt2_tokenizer.json  GPT-2 as a Hugging Face tokenizer.json, built from
                       js-tiktoken's gpt2 ranks (merges recovered by running
                       BPE on each token with the lower ranks only)
  sample.txt           the sample text (UTF-8)
  exp_sample.txt       js-tiktoken's gpt2 encoding of sample.txt (ids, spaces)
Output: tests/data/tok_gpt2_subset.json (the 256 byte tokens, every token of
the expected encoding and the merges that build them, renumbered 0..N-1 in
GPT-2's order, <|endoftext|> last) and tests/data/gpt2_subset_sample.txt
(line 1: the expected ids, renumbered; then the sample text).

Keeping only the merges that build tokens of the result does not change the
result: a merge that never applied was never the best candidate, and its
absence cannot change which merge is best at any step.
"""
import json, sys

src = json.load(open(sys.argv[1] if len(sys.argv) > 1 else "gpt2_tokenizer.json"))
sample = open("sample.txt", "rb").read()
exp = [int(x) for x in open("exp_sample.txt").read().split()]
vocab = src["model"]["vocab"]
inv = {i: t for t, i in vocab.items()}
merge_of = {}
for m in src["model"]["merges"]:
    a, b = m.split(" ")
    merge_of[a + b] = (a, b)
keep = set(t for t, i in vocab.items() if i < 256)
def add(t):
    if t in keep:
        return
    keep.add(t)
    a, b = merge_of[t]
    add(a); add(b)
for i in exp:
    add(inv[i])
old = sorted(vocab[t] for t in keep if t != "<|endoftext|>")
new_id = {o: k for k, o in enumerate(old)}
new_vocab = {inv[o]: new_id[o] for o in old}
eot = len(new_vocab)
new_vocab["<|endoftext|>"] = eot
merges = [m for m in src["model"]["merges"] if "".join(m.split(" ")) in new_vocab]
out = dict(src)
out["added_tokens"] = [{"id": eot, "content": "<|endoftext|>", "special": True}]
out["model"] = {"type": "BPE", "vocab": new_vocab, "merges": merges}
json.dump(out, open("tests/data/tok_gpt2_subset.json", "w"), ensure_ascii=False)
ids = [new_id[i] if i != 50256 else eot for i in exp]
with open("tests/data/gpt2_subset_sample.txt", "wb") as f:
    f.write((" ".join(map(str, ids)) + "\n").encode() + sample)
print(len(new_vocab), "tokens,", len(merges), "merges,", len(ids), "ids")

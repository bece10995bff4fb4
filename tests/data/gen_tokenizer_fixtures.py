#!/usr/bin/python3
"""gen_tokenizer_fixtures.py: writes the tiny tokenizer fixtures that
tests/test_tokenizer.c loads, and prints the expected encodings of the test
strings, computed here by independent reference encoders (OpenAI's GPT-2
encoder.py algorithm, Hugging Face's BPE for byte_fallback models, and a
line-by-line port of llama2.c's encode), as C arrays to paste into the test.

    tok_gpt2_tiny.json    GPT-2 layout: ByteLevel, 256 byte tokens + 24 merges
                          ("a b" strings), <|endoftext|> added token
    tok_llama_tiny.json   LLaMA layout: byte_fallback, metaspace, merges as
                          [a, b] pairs, <unk> <s> </s> added tokens
    tok_llama2c_tiny.bin  llama2.c layout of the same pieces, merges by score

Run from the repository root: /usr/bin/python3 tests/data/gen_tokenizer_fixtures.py
With --shakespeare it instead trains a 512-token byte-level BPE on
data/tinyshakespeare.txt with a naive trainer (recount all pairs per merge,
same pattern, "occurs at least twice", ties to the smaller pair) and prints
the merge-list hash and token count test_tokenizer.c expects (about 10 s).
"""
import collections, json, re, struct, sys

D = "tests/data/"


def shakespeare():
    pat = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+(?!\S)|\s+""")
    text = open("data/tinyshakespeare.txt", "rb").read().decode("ascii")
    ws = [[list(w.encode()), c] for w, c in collections.Counter(pat.findall(text)).items()]
    h, nxt = 0, 256
    while nxt < 511:
        pc = collections.Counter()
        for w, c in ws:
            for p in zip(w, w[1:]):
                pc[p] += c
        (a, b), c = min(pc.items(), key=lambda kv: (-kv[1], kv[0]))
        if c < 2:
            break
        h = (h * 1000003 + a * 65536 + b) % (1 << 64)
        for wc in ws:
            w, out, i = wc[0], [], 0
            while i < len(w):
                if i + 1 < len(w) and w[i] == a and w[i + 1] == b:
                    out.append(nxt); i += 2
                else:
                    out.append(w[i]); i += 1
            wc[0] = out
        nxt += 1
    print("merges hash 0x%x, %d tokens" % (h, sum(len(w) * c for w, c in ws)))


if len(sys.argv) > 1 and sys.argv[1] == "--shakespeare":
    shakespeare()
    sys.exit(0)

def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
         list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs])), bs

# ---------------------------------------------------------------- GPT-2
B2U, BS = bytes_to_unicode()
GPT2_MERGES = [("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("Ġ", "a"), ("n", "d"), ("Ġa", "nd"),
               ("l", "l"), ("e", "ll"), ("H", "ell"), ("Hell", "o"), ("o", "r"), ("Ġ", "w"),
               ("Ġw", "or"), ("l", "d"), ("Ġwor", "ld"), ("'", "s"), ("!", "!"), ("Ġ", "Ġ"),
               ("Ċ", "Ċ"), ("2", "3"), ("Ġ", "1"), ("Ġ1", "23"), ("h", "ell"), ("hell", "o")]
gvocab = {}
for b in BS:  # GPT-2 orders the byte tokens as bytes_to_unicode lists them
    gvocab[B2U[b]] = len(gvocab)
for a, b in GPT2_MERGES:
    gvocab[a + b] = len(gvocab)
EOT = len(gvocab)
gvocab["<|endoftext|>"] = EOT
gpt2 = {
    "version": "1.0", "truncation": None, "padding": None,
    "added_tokens": [{"id": EOT, "content": "<|endoftext|>", "single_word": False,
                      "lstrip": False, "rstrip": False, "normalized": True, "special": True}],
    "normalizer": None,
    "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                      "use_regex": True},
    "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False,
                       "use_regex": True},
    "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                "use_regex": True},
    "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
              "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False,
              "vocab": gvocab, "merges": [a + " " + b for a, b in GPT2_MERGES]},
}
with open(D + "tok_gpt2_tiny.json", "w", encoding="utf-8") as f:
    json.dump(gpt2, f, ensure_ascii=False, indent=1)

PAT = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+(?!\S)|\s+""")
GRANK = {m: i for i, m in enumerate(GPT2_MERGES)}

def gpt2_bpe(word):  # encoder.py's bpe(): merge the lowest-rank bigram, all occurrences
    w = list(word)
    while len(w) > 1:
        pairs = set(zip(w, w[1:]))
        best = min(pairs, key=lambda p: GRANK.get(p, 1e9))
        if best not in GRANK:
            break
        out, i = [], 0
        while i < len(w):
            if i + 1 < len(w) and (w[i], w[i + 1]) == best:
                out.append(w[i] + w[i + 1]); i += 2
            else:
                out.append(w[i]); i += 1
        w = out
    return w

def gpt2_encode(text):  # ASCII text only: re's \s differs from Unicode on \x1c-\x1f
    ids = []
    for tok in PAT.findall(text):
        ids += [gvocab[p] for p in gpt2_bpe("".join(B2U[b] for b in tok.encode()))]
    return ids

# ---------------------------------------------------------------- LLaMA
SPM_MERGES = [("t", "h"), ("▁", "t"), ("h", "e"), ("▁t", "he"), ("a", "n"), ("▁", "a"),
              ("n", "d"), ("▁a", "nd"), ("l", "l"), ("he", "ll"), ("hell", "o"), ("o", "r"),
              ("w", "or"), ("▁", "wor"), ("l", "d"), ("▁wor", "ld"), ("▁the", "n"),
              ("c", "a"), ("ca", "f"), ("caf", "é"), ("e", "n")]
SPM_CHARS = ["▁", "a", "c", "d", "e", "f", "h", "l", "n", "o", "r", "t", "w", "é"]
spieces = ["<unk>", "<s>", "</s>"] + ["<0x%02X>" % b for b in range(256)] + SPM_CHARS
for a, b in SPM_MERGES:
    spieces.append(a + b)
svocab = {p: i for i, p in enumerate(spieces)}
llama = {
    "version": "1.0", "truncation": None, "padding": None,
    "added_tokens": [{"id": i, "content": c, "single_word": False, "lstrip": False,
                      "rstrip": False, "normalized": False, "special": True}
                     for i, c in enumerate(["<unk>", "<s>", "</s>"])],
    "normalizer": {"type": "Sequence", "normalizers": [
        {"type": "Prepend", "prepend": "▁"}, {"type": "Replace", "pattern": {"String": " "},
                                              "content": "▁"}]},
    "pre_tokenizer": None,
    "post_processor": None,
    "decoder": {"type": "Sequence", "decoders": [
        {"type": "Replace", "pattern": {"String": "▁"}, "content": " "},
        {"type": "ByteFallback"}, {"type": "Fuse"},
        {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
    "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>",
              "continuing_subword_prefix": None, "end_of_word_suffix": None, "fuse_unk": True,
              "byte_fallback": True, "ignore_merges": False,
              "vocab": svocab, "merges": [[a, b] for a, b in SPM_MERGES]},
}
with open(D + "tok_llama_tiny.json", "w", encoding="utf-8") as f:
    json.dump(llama, f, ensure_ascii=False, indent=1)

SRANK = {m: i for i, m in enumerate(SPM_MERGES)}

def hf_spm_encode(text):  # HF BPE with byte_fallback: lowest (rank, position) first
    text = "▁" + text.replace(" ", "▁")
    syms = []
    for ch in text:
        if ch in svocab:
            syms.append(ch)
        else:
            syms += ["<0x%02X>" % b for b in ch.encode()]
    while True:
        best = None
        for i in range(len(syms) - 1):
            r = SRANK.get((syms[i], syms[i + 1]))
            if r is not None and (best is None or r < best[0]):
                best = (r, i)
        if best is None:
            break
        i = best[1]
        syms[i:i + 2] = [syms[i] + syms[i + 1]]
    return [svocab[s] for s in syms]

# llama2.c: the same pieces, "▁" as a space, score of a merged piece = -rank,
# except "he" and "▁t" tie at the same score (leftmost wins).
scores = {}
for i, (a, b) in enumerate(SPM_MERGES):
    scores[a + b] = -float(i + 1)
scores["he"] = scores["▁t"]
bin_pieces = [(p.replace("▁", " ").encode() if not p.startswith("<") else
               (p.encode() if p not in ("<s>", "</s>") else ("\n" + p + "\n").encode()),
               scores.get(p, 0.0)) for p in spieces]
maxlen = max(len(p) for p, _ in bin_pieces)
with open(D + "tok_llama2c_tiny.bin", "wb") as f:
    f.write(struct.pack("<i", maxlen))
    for p, s in bin_pieces:
        f.write(struct.pack("<fi", s, len(p)) + p)

def llama2c_encode(text, bos):  # run.c's encode(), on bytes
    vocab = {p: i for i, (p, _) in reversed(list(enumerate(bin_pieces)))}
    sc = [s for _, s in bin_pieces]
    toks = [1] if bos else []
    if text:
        toks.append(vocab[b" "])
    buf = b""
    for i, c in enumerate(text):
        if (c & 0xC0) != 0x80:
            buf = b""
        buf += bytes([c])
        if i + 1 < len(text) and (text[i + 1] & 0xC0) == 0x80 and len(buf) < 4:
            continue
        if buf in vocab:
            toks.append(vocab[buf])
        else:
            toks += [b + 3 for b in buf]
        buf = b""
    while True:
        best, bi, bid = -1e10, -1, -1
        for i in range(len(toks) - 1):
            j = bin_pieces[toks[i]][0] + bin_pieces[toks[i + 1]][0]
            if j in vocab and sc[vocab[j]] > best:
                best, bi, bid = sc[vocab[j]], i, vocab[j]
        if bi < 0:
            break
        toks[bi:bi + 2] = [bid]
    return toks

def carr(ids):
    return "{" + ", ".join(map(str, ids)) + "}"

GPT2_TESTS = ["Hello world", "hello, the world's end!!!", "  and\n\nthe  ", "Hello there 123 4567",
              "she's", "a  b"]
SPM_TESTS = ["hello the world", " and then", "caf\u00e9 and", "then\n\u00fcber"]
BIN_TESTS = [b"hello the world", b" and then", "café and".encode(), b"x\x00\xff\x80then"]
print("/* GPT-2 tiny: vocab %d, EOT %d */" % (len(gvocab), EOT))
for s in GPT2_TESTS:
    print("    {%s, %s}," % (json.dumps(s), carr(gpt2_encode(s))))
print("/* LLaMA tiny json: vocab %d */" % len(svocab))
for s in SPM_TESTS:
    print("    {%s, %s}," % (json.dumps(s, ensure_ascii=False), carr(hf_spm_encode(s))))
print("/* llama2.c tiny bin: vocab %d, max_token_length %d */" % (len(bin_pieces), maxlen))
for s in BIN_TESTS:
    print("    {%s, %s}," % (json.dumps(s.decode("latin-1")), carr(llama2c_encode(s, True))))

/* test_tokenizer.c: the tokenizers against known encodings, naive twins and
 * hostile files.
 *  - known ids for the fixtures in tests/data (expected ids computed by the
 *    independent Python reference encoders in gen_tokenizer_fixtures.py, and
 *    a few checked by hand in the comments), and GPT-2's own ids for a
 *    sample text with the real GPT-2 merges (gen_gpt2_subset.py);
 *  - the heap-based merge loop against naive O(n^2) twins: GPT-2's
 *    encoder.py rule (lowest rank first) and llama2.c's encode (best score,
 *    leftmost), on random text;
 *  - decode(encode(s)) == s on random byte strings, invalid UTF-8 and NUL
 *    bytes included, for every kind and after a save/load round trip;
 *  - BPE training: a hand-worked example, determinism, tinyshakespeare
 *    (512 tokens: round trip and compression ratio, printed with timings);
 *  - malformed tokenizer.bin / tokenizer.json / frugal files: a clear error,
 *    never a crash (every truncation and random corruptions of each). */
#include "check.h"
#include "data/tokenizer_internal.h"
#include "frugal/clock.h"
#include "frugal/tokenizer.h"

#include <stdlib.h>

static uint8_t *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    rewind(f);
    uint8_t *b = malloc(*len + 1);
    if (b && fread(b, 1, *len, f) != *len) {
        free(b);
        b = NULL;
    }
    fclose(f);
    return b;
}

static struct fr_tokenizer *load(const char *path) {
    struct fr_tokenizer *t = NULL;
    int rc = fr_tokenizer_load(path, &t);
    CHECK(rc == 0, "load %s: %s", path, fr_last_error());
    return t;
}

/* Encodes s and compares with want; also checks decode gives s back. */
static void check_ids(struct fr_tokenizer *t, const char *s, size_t n, int flags,
                      const int32_t *want, int64_t nwant, const char *what) {
    int32_t *ids;
    int64_t k;
    int rc = fr_tokenizer_encode(t, s, n, flags, &ids, &k);
    CHECK(rc == 0, "%s: encode: %s", what, fr_last_error());
    if (rc) return;
    int same = k == nwant && memcmp(ids, want, (size_t)k * sizeof *ids) == 0;
    CHECK(same, "%s: encoding of \"%.40s\" differs (%lld ids, want %lld)", what, s, (long long)k,
          (long long)nwant);
    if (!same) {
        for (int64_t i = 0; i < k; i++)
            fprintf(stderr, "%d ", ids[i]);
        fprintf(stderr, "\n");
    }
    uint8_t *text;
    size_t len;
    if (!(flags & FR_TOK_SPECIAL)) { /* special ids decode to their text, BOS included */
        rc = fr_tokenizer_decode(t, ids, k, 1, &text, &len);
        CHECK(rc == 0 && len == n && memcmp(text, s, n) == 0, "%s: decode of \"%.40s\"", what, s);
        free(text);
    }
    free(ids);
}

#define IDS(...)                                                                                   \
    (const int32_t[]){__VA_ARGS__}, (int64_t)(sizeof((const int32_t[]){__VA_ARGS__}) / 4)

static void test_known(void) {
    struct fr_tokenizer *g = load("tests/data/tok_gpt2_tiny.json");
    if (g) {
        CHECK(fr_tokenizer_kind(g) == FR_TOK_BPE && fr_tokenizer_vocab_size(g) == 281 &&
                  fr_tokenizer_bos(g) == 280 && fr_tokenizer_eos(g) == 280 &&
                  fr_tokenizer_n_merges(g) == 24,
              "gpt2 tiny: kind/vocab/bos/merges");
        /* "Hello" = H e l l o: ll(6), e+ll(7), H+ell(8), Hell+o(9) -> 265;
         * " world" = Ġw(11), Ġw+or(12)... -> Ġworld 270 */
        check_ids(g, "Hello world", 11, 0, IDS(265, 270), "gpt2");
        /* "hello": he(1) is taken first, so e+ll can never form: he ll o */
        check_ids(g, "hello, the world's end!!!", 25, 0,
                  IDS(257, 262, 78, 11, 258, 270, 271, 220, 68, 260, 272, 0), "gpt2");
        /* whitespace: "  and" -> " " + " and"; "\n\n" before a letter splits */
        check_ids(g, "  and\n\nthe  ", 12, 0, IDS(220, 261, 198, 198, 83, 257, 273), "gpt2");
        check_ids(g, "Hello there 123 4567", 20, 0, IDS(265, 258, 81, 68, 277, 220, 19, 20, 21, 22),
                  "gpt2");
        check_ids(g, "she's", 5, 0, IDS(82, 257, 271), "gpt2");
        check_ids(g, "a  b", 4, 0, IDS(64, 220, 220, 65), "gpt2");
        check_ids(g, "Hello<|endoftext|>", 18, FR_TOK_SPECIAL | FR_TOK_BOS, IDS(280, 265, 280),
                  "gpt2 special");
        int32_t *ids;
        int64_t n;
        CHECK(fr_tokenizer_encode(g, "<|endoftext|>", 13, 0, &ids, &n) == 0 && n > 1,
              "without FR_TOK_SPECIAL the text is plain bytes");
        free(ids);
        uint8_t *text;
        size_t len;
        CHECK(fr_tokenizer_encode(g, "a<|endoftext|>b", 15, FR_TOK_SPECIAL, &ids, &n) == 0 &&
                  n == 3 && ids[1] == 280 && fr_tokenizer_decode(g, ids, n, 0, &text, &len) == 0 &&
                  len == 15 && memcmp(text, "a<|endoftext|>b", 15) == 0,
              "special token inside text");
        free(ids);
        free(text);
    }
    fr_tokenizer_free(g);

    struct fr_tokenizer *l = load("tests/data/tok_llama_tiny.json");
    if (l) {
        CHECK(fr_tokenizer_kind(l) == FR_TOK_SPM && fr_tokenizer_vocab_size(l) == 294 &&
                  fr_tokenizer_bos(l) == 1 && fr_tokenizer_eos(l) == 2,
              "llama tiny json: kind/vocab/bos/eos");
        /* ▁hello▁the▁world: t+h (rank 0) before ▁+t, so ▁the never forms */
        check_ids(l, "hello the world", 15, FR_TOK_BOS, IDS(1, 259, 283, 259, 273, 263, 288),
                  "llama json");
        check_ids(l, " and then", 9, 0, IDS(259, 259, 277, 262, 259, 273, 293), "llama json");
        check_ids(l, "caf\xc3\xa9 and", 9, 0, IDS(259, 292, 259, 277, 262), "llama json");
        /* \n and ü are not pieces: byte fallback <0x0A>=13, <0xC3> <0xBC> */
        check_ids(l,
                  "then\n\xc3\xbc"
                  "ber",
                  10, 0, IDS(259, 273, 293, 13, 198, 191, 101, 263, 269), "llama json");
    }
    fr_tokenizer_free(l);

    struct fr_tokenizer *b = load("tests/data/tok_llama2c_tiny.bin");
    if (b) {
        CHECK(fr_tokenizer_kind(b) == FR_TOK_SPM && fr_tokenizer_vocab_size(b) == 294 &&
                  fr_tokenizer_bos(b) == 1 && fr_tokenizer_n_merges(b) == 0,
              "llama2.c tiny bin: kind/vocab/bos");
        check_ids(b, "hello the world", 15, FR_TOK_BOS, IDS(1, 259, 283, 259, 273, 263, 288),
                  "llama2c");
        check_ids(b, " and then", 9, FR_TOK_BOS, IDS(1, 259, 259, 277, 262, 259, 273, 293),
                  "llama2c");
        check_ids(b, "caf\xc3\xa9 and", 9, FR_TOK_BOS, IDS(1, 259, 292, 259, 277, 262), "llama2c");
        /* NUL, 0xFF and a lone continuation byte fall back to <0xXX> = byte + 3 */
        check_ids(b, "x\0\xff\x80then", 8, FR_TOK_BOS, IDS(1, 259, 123, 3, 258, 131, 273, 293),
                  "llama2c bytes");
        /* llama2.c's decode_piece: the space after BOS is dropped, <0xXX> is a raw byte */
        const uint8_t *p;
        size_t len;
        CHECK(fr_tokenizer_decode_piece(b, 1, 286, &p, &len) == 0 && len == 3 &&
                  memcmp(p, "wor", 3) == 0,
              "decode_piece strips the space after BOS");
        CHECK(fr_tokenizer_decode_piece(b, 5, 286, &p, &len) == 0 && len == 4 &&
                  memcmp(p, " wor", 4) == 0,
              "decode_piece keeps the space elsewhere");
        CHECK(fr_tokenizer_decode_piece(b, 5, 3 + 0xC3, &p, &len) == 0 && len == 1 && p[0] == 0xC3,
              "decode_piece of a byte token");
        CHECK(fr_tokenizer_decode_piece(b, 5, 294, &p, &len) == FR_EINVAL, "decode_piece range");
    }
    fr_tokenizer_free(b);
}

/* The real GPT-2 vocabulary, cut to what a sample text needs
 * (gen_gpt2_subset.py): ids must equal GPT-2's own (js-tiktoken's). */
static void test_gpt2_real(void) {
    size_t n;
    uint8_t *f = read_file("tests/data/gpt2_subset_sample.txt", &n);
    struct fr_tokenizer *t = load("tests/data/tok_gpt2_subset.json");
    CHECK(f != NULL, "tests/data/gpt2_subset_sample.txt is missing (it ships with the repo)");
    if (!f || !t) goto cleanup;
    f[n] = 0;
    /* a line of GPT-2's ids, then the text they encode */
    int32_t want[2000];
    int64_t nw = 0;
    char *p = (char *)f, *e;
    for (long v; *p != '\n' && nw < 2000 && (v = strtol(p, &e, 10), e != p); p = e)
        want[nw++] = (int32_t)v;
    size_t off = (size_t)(p + 1 - (char *)f);
    CHECK(*p == '\n' && nw > 0 && off < n,
          "tests/data/gpt2_subset_sample.txt: want a line of ids, then text (%lld ids, %zu of %zu "
          "bytes)",
          (long long)nw, off, n);
    if (*p != '\n' || nw == 0 || off >= n) goto cleanup;
    check_ids(t, (const char *)f + off, n - off, 0, want, nw, "gpt2 subset (GPT-2's own ids)");
cleanup:
    fr_tokenizer_free(t);
    free(f);
}

/* GPT-2 splits, checked by hand against the regex's alternatives. */
static void test_pretok(void) {
    static const struct {
        const char *s;
        const char *words[12];
    } cases[] = {
        {"Hello world's 123!", {"Hello", " world", "'s", " 123", "!"}},
        {"x  \n y", {"x", "  \n", " y"}},
        {"don't  ", {"don", "'t", "  "}},
        {"na\xc3\xafve caf\xc3\xa9", {"na\xc3\xafve", " caf\xc3\xa9"}}, /* ï, é letters */
        {"\xe6\x97\xa5\xe6\x9c\xac 42\xc2\xb2",
         {"\xe6\x97\xa5\xe6\x9c\xac", " 42\xc2\xb2"}}, /* ² is N */
        {"a\xc2\xa0"
         "b",
         {"a", "\xc2\xa0", "b"}},                     /* NBSP is \s */
        {"ab\xff\xfe!c", {"ab", "\xff\xfe!", "c"}},   /* invalid bytes: other */
        {"\xe2\x80\x94--x", {"\xe2\x80\x94--", "x"}}, /* em dash: other */
        {" ?!", {" ?!"}},
        {"'re'x", {"'re", "'", "x"}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const uint8_t *s = (const uint8_t *)cases[c].s;
        size_t n = strlen(cases[c].s), i = 0;
        int w = 0, ok = 1;
        while (i < n) {
            size_t j = fr_pretok_next(s, n, i);
            const char *want = cases[c].words[w++];
            if (!want || j <= i || strlen(want) != j - i || memcmp(want, s + i, j - i)) ok = 0;
            if (!ok) break;
            i = j;
        }
        CHECK(ok && !cases[c].words[w], "pretok case %zu (\"%s\") at word %d", c, cases[c].s, w);
    }
}

/* Random text: bytes drawn from a mix of an alphabet (so merges happen),
 * arbitrary bytes, NULs and UTF-8 sequences. */
static size_t random_text(struct fr_rng *r, uint8_t *buf, size_t max, const char *alpha) {
    size_t n = (size_t)fr_rng_below(r, max + 1), na = strlen(alpha);
    for (size_t i = 0; i < n; i++) {
        uint64_t k = fr_rng_below(r, 20);
        if (k < 14)
            buf[i] = (uint8_t)alpha[fr_rng_below(r, na)];
        else if (k < 16)
            buf[i] = (uint8_t)fr_rng_below(r, 256);
        else if (k == 16)
            buf[i] = 0;
        else if (k == 17 && i + 1 < n)
            buf[i] = 0xC3, buf[++i] = 0xA9; /* é */
        else
            buf[i] = " \n"[fr_rng_below(r, 2)];
    }
    return n;
}

static void check_roundtrip(struct fr_tokenizer *t, const char *what, int trials, const char *alpha,
                            uint64_t seed) {
    struct fr_rng r;
    fr_rng_seed(&r, seed);
    uint8_t buf[300];
    int bad = 0;
    for (int it = 0; it < trials && !bad; it++) {
        size_t n = random_text(&r, buf, sizeof buf, alpha);
        int flags = it % 3 == 0 && fr_tokenizer_bos(t) >= 0 ? FR_TOK_BOS : 0;
        int32_t *ids;
        int64_t k;
        uint8_t *text = NULL;
        size_t len = 0;
        if (fr_tokenizer_encode(t, buf, n, flags, &ids, &k)) {
            bad = 1;
            CHECK(0, "%s: encode failed: %s", what, fr_last_error());
            break;
        }
        int rc = fr_tokenizer_decode(t, ids, k, flags != 0, &text, &len);
        if (rc || len != n || memcmp(text, buf, n)) bad = 1;
        /* streaming pieces concatenate to decode(skip_special = 0) */
        uint8_t *full;
        size_t flen, at = 0;
        fr_tokenizer_decode(t, ids, k, 0, &full, &flen);
        for (int64_t i = 0; i < k && !bad; i++) {
            const uint8_t *p;
            size_t pl;
            fr_tokenizer_decode_piece(t, i ? ids[i - 1] : -1, ids[i], &p, &pl);
            if (at + pl > flen || memcmp(full + at, p, pl)) bad = 2;
            at += pl;
        }
        if (at != flen) bad = 2;
        CHECK(!bad, "%s: round trip of a random string of %zu bytes (%s)", what, n,
              bad == 2 ? "pieces" : "decode");
        free(full);
        free(text);
        free(ids);
    }
}

/* The naive twin of byte-level BPE: GPT-2 encoder.py on ids. */
static int64_t naive_bpe(const struct fr_tokenizer *t, const uint8_t *s, size_t n, int32_t *out) {
    int64_t k = 0;
    for (size_t i = 0; i < n;) {
        size_t j = fr_pretok_next(s, n, i);
        int64_t m = 0;
        int32_t *w = out + k;
        for (size_t q = i; q < j; q++)
            w[m++] = t->byte_id[s[q]];
        for (;;) {
            int64_t best = -1;
            for (int64_t q = 0; q + 1 < m; q++) {
                int64_t rank;
                if (fr_imap_get(&t->pairs, (uint64_t)(uint32_t)w[q] << 32 | (uint32_t)w[q + 1],
                                &rank) &&
                    (best < 0 || rank < best))
                    best = rank;
            }
            if (best < 0) break;
            int32_t a, b, res;
            fr_tokenizer_merge(t, best, &a, &b, &res);
            int64_t o = 0;
            for (int64_t q = 0; q < m;) {
                if (q + 1 < m && w[q] == a && w[q + 1] == b)
                    w[o++] = res, q += 2;
                else
                    w[o++] = w[q++];
            }
            m = o;
        }
        k += m;
        i = j;
    }
    return k;
}

/* The naive twin of llama2.c's encode(): a direct port of run.c's loop. */
static int32_t piece_lookup(const struct fr_tokenizer *t, const uint8_t *s, size_t n) {
    for (int32_t i = 0; i < fr_tokenizer_vocab_size(t); i++) {
        const uint8_t *p;
        size_t l;
        fr_tokenizer_piece(t, i, &p, &l, NULL);
        if (l == n && memcmp(p, s, n) == 0 && i > 2 && !(t->attr[i] & FR_TOKA_BYTE)) return i;
    }
    return -1;
}

static int64_t naive_llama2c(const struct fr_tokenizer *t, const uint8_t *s, size_t n,
                             int32_t *tok) {
    int64_t k = 0;
    uint8_t buf[16];
    size_t bl = 0;
    if (n) tok[k++] = piece_lookup(t, (const uint8_t *)" ", 1);
    for (size_t i = 0; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) bl = 0;
        buf[bl++] = s[i];
        if (i + 1 < n && (s[i + 1] & 0xC0) == 0x80 && bl < 4) continue;
        int32_t id = piece_lookup(t, buf, bl);
        if (id >= 0)
            tok[k++] = id;
        else
            for (size_t q = 0; q < bl; q++)
                tok[k++] = buf[q] + 3;
        bl = 0;
    }
    for (;;) {
        float best = -1e10f;
        int64_t bi = -1;
        int32_t bid = -1;
        for (int64_t i = 0; i + 1 < k; i++) {
            uint8_t j[64];
            const uint8_t *p, *q;
            size_t lp, lq;
            fr_tokenizer_piece(t, tok[i], &p, &lp, NULL);
            fr_tokenizer_piece(t, tok[i + 1], &q, &lq, NULL);
            if (lp + lq > sizeof j) continue;
            memcpy(j, p, lp);
            memcpy(j + lp, q, lq);
            int32_t id = piece_lookup(t, j, lp + lq);
            float sc;
            if (id < 0) continue;
            fr_tokenizer_piece(t, id, &p, &lp, &sc);
            if (sc > best) best = sc, bi = i, bid = id;
        }
        if (bi < 0) break;
        tok[bi] = bid;
        memmove(tok + bi + 1, tok + bi + 2, (size_t)(k - bi - 2) * sizeof *tok);
        k--;
    }
    return k;
}

static void check_twin(struct fr_tokenizer *t, int llama2c, const char *what, const char *alpha,
                       int trials) {
    struct fr_rng r;
    fr_rng_seed(&r, 99);
    uint8_t buf[200];
    int32_t want[1024];
    int fails = 0;
    for (int it = 0; it < trials && fails < 3; it++) {
        size_t n = random_text(&r, buf, sizeof buf, alpha);
        int32_t *ids;
        int64_t k;
        if (fr_tokenizer_encode(t, buf, n, 0, &ids, &k)) {
            CHECK(0, "%s: %s", what, fr_last_error());
            return;
        }
        int64_t m = llama2c ? naive_llama2c(t, buf, n, want) : naive_bpe(t, buf, n, want);
        int same = m == k && memcmp(ids, want, (size_t)k * sizeof *ids) == 0;
        if (!same) fails++;
        CHECK(same, "%s: heap merge differs from the naive twin on %zu bytes (%lld vs %lld ids)",
              what, n, (long long)k, (long long)m);
        free(ids);
    }
}

static void check_same_tokenizer(struct fr_tokenizer *a, struct fr_tokenizer *b, const char *what) {
    int same = fr_tokenizer_vocab_size(a) == fr_tokenizer_vocab_size(b) &&
               fr_tokenizer_n_merges(a) == fr_tokenizer_n_merges(b) &&
               fr_tokenizer_bos(a) == fr_tokenizer_bos(b) &&
               fr_tokenizer_eos(a) == fr_tokenizer_eos(b) &&
               fr_tokenizer_kind(a) == fr_tokenizer_kind(b);
    for (int32_t i = 0; same && i < fr_tokenizer_vocab_size(a); i++) {
        const uint8_t *p, *q;
        size_t lp, lq;
        float sp, sq;
        fr_tokenizer_piece(a, i, &p, &lp, &sp);
        fr_tokenizer_piece(b, i, &q, &lq, &sq);
        same = lp == lq && memcmp(p, q, lp) == 0 && sp == sq && a->attr[i] == b->attr[i];
    }
    for (int64_t i = 0; same && i < fr_tokenizer_n_merges(a); i++) {
        int32_t x[3], y[3];
        fr_tokenizer_merge(a, i, &x[0], &x[1], &x[2]);
        fr_tokenizer_merge(b, i, &y[0], &y[1], &y[2]);
        same = memcmp(x, y, sizeof x) == 0;
    }
    CHECK(same, "%s: tokenizers differ", what);
}

static void check_save_load(struct fr_tokenizer *t, const char *what) {
    const char *path = check_tmp("tok_saved.bin");
    CHECK(fr_tokenizer_save(t, path) == 0, "%s: save: %s", what, fr_last_error());
    struct fr_tokenizer *u = NULL;
    CHECK(fr_tokenizer_load(path, &u) == 0, "%s: reload: %s", what, fr_last_error());
    if (u) {
        check_same_tokenizer(t, u, what);
        if (fr_tokenizer_kind(u) != FR_TOK_CHAR)
            check_roundtrip(u, what, 100, "abcdefghijklmnopqrstuvwxyz ", 5);
    }
    fr_tokenizer_free(u);
    remove(path);
}

static void test_roundtrips(void) {
    const char *alpha = "helo wrdtanHc'!123,";
    const char *files[] = {"tests/data/tok_gpt2_tiny.json", "tests/data/tok_llama_tiny.json",
                           "tests/data/tok_llama2c_tiny.bin"};
    for (int f = 0; f < 3; f++) {
        struct fr_tokenizer *t = load(files[f]);
        if (!t) continue;
        check_roundtrip(t, files[f], 400, alpha, 1 + (uint64_t)f);
        if (f == 0) check_twin(t, 0, files[f], alpha, 300);
        if (f == 2) check_twin(t, 1, files[f], alpha, 200);
        check_save_load(t, files[f]);
        fr_tokenizer_free(t);
    }
    /* long input (heap path beyond the stack buffers, one SPM span) */
    struct fr_tokenizer *b = load("tests/data/tok_llama2c_tiny.bin");
    if (b) {
        struct fr_rng r;
        fr_rng_seed(&r, 7);
        size_t n = 20000;
        uint8_t *buf = malloc(n);
        for (size_t i = 0; i < n; i++)
            buf[i] = (uint8_t)alpha[fr_rng_below(&r, strlen(alpha))];
        int32_t *ids, *want = malloc(n * 2 * sizeof *want);
        int64_t k;
        CHECK(fr_tokenizer_encode(b, buf, 2000, 0, &ids, &k) == 0, "long encode");
        int64_t m = naive_llama2c(b, buf, 2000, want);
        CHECK(m == k && memcmp(ids, want, (size_t)k * 4) == 0, "long text vs llama2.c twin");
        free(ids);
        CHECK(fr_tokenizer_encode(b, buf, n, 0, &ids, &k) == 0, "long encode");
        uint8_t *text;
        size_t len;
        fr_tokenizer_decode(b, ids, k, 0, &text, &len);
        CHECK(len == n && memcmp(text, buf, n) == 0, "long round trip");
        free(text);
        free(ids);
        free(want);
        free(buf);
    }
    fr_tokenizer_free(b);
}

static void test_char(void) {
    const char *corpus = "hello world\n";
    struct fr_tokenizer *t = NULL;
    CHECK(fr_tokenizer_train_char(corpus, strlen(corpus), &t) == 0, "char train");
    if (!t) return;
    /* sorted set of bytes: \n ' ' d e h l o r w */
    CHECK(fr_tokenizer_vocab_size(t) == 9 && fr_tokenizer_bos(t) == -1, "char vocab size");
    check_ids(t, "hold\n", 5, 0, IDS(4, 6, 5, 2, 0), "char");
    int32_t *ids;
    int64_t n;
    CHECK(fr_tokenizer_encode(t, "hex", 3, 0, &ids, &n) == FR_EINVAL &&
              strstr(fr_last_error(), "0x78"),
          "char: unseen byte is an error naming it (%s)", fr_last_error());
    CHECK(fr_tokenizer_encode(t, "he", 2, FR_TOK_BOS, &ids, &n) == FR_EINVAL, "char: no BOS");
    uint8_t *text;
    size_t len;
    CHECK(fr_tokenizer_decode(t, (const int32_t[]){1, 9}, 2, 0, &text, &len) == FR_EINVAL,
          "decode: id out of range");
    CHECK(fr_tokenizer_decode(t, (const int32_t[]){-1}, 1, 0, &text, &len) == FR_EINVAL,
          "decode: negative id");
    check_save_load(t, "char");
    fr_tokenizer_free(t);
    CHECK(fr_tokenizer_train_char("", 0, &t) == FR_EINVAL && !t, "char: empty corpus");
}

static void test_bpe_train(void) {
    /* Wikipedia's example, one word: aa (4 pairs) -> 256; then (a,b) and
     * (256,a) tie at 2 and the smaller pair (97,98) wins -> 257; then
     * (256,257) -> 258; every other pair occurs once, so training stops. */
    struct fr_tokenizer *t = NULL;
    CHECK(fr_tokenizer_train_bpe("aaabdaaabac", 11, 1000, &t) == 0, "bpe train: %s",
          fr_last_error());
    if (t) {
        int32_t m[3][3];
        CHECK(fr_tokenizer_n_merges(t) == 3 && fr_tokenizer_vocab_size(t) == 260, "wiki: 3 merges");
        for (int i = 0; i < 3 && i < fr_tokenizer_n_merges(t); i++)
            fr_tokenizer_merge(t, i, &m[i][0], &m[i][1], &m[i][2]);
        CHECK(m[0][0] == 97 && m[0][1] == 97 && m[0][2] == 256 && m[1][0] == 97 && m[1][1] == 98 &&
                  m[1][2] == 257 && m[2][0] == 256 && m[2][1] == 257 && m[2][2] == 258,
              "wiki: merges");
        check_ids(t, "aaabdaaabac", 11, 0, IDS(258, 100, 258, 97, 99), "wiki");
        CHECK(fr_tokenizer_bos(t) == 259, "eot is the last id");
        fr_tokenizer_free(t);
    }
    CHECK(fr_tokenizer_train_bpe("abc", 3, 256, &t) == FR_EINVAL, "vocab_size 256 rejected");

    /* a corpus with overlaps, digits and punctuation: deterministic, and the
     * fast encoder agrees with the naive twin */
    struct fr_rng r;
    fr_rng_seed(&r, 3);
    size_t n = 60000;
    char *c = malloc(n);
    const char *words[] = {"the ", "then ", "aaaa", "banana ", "12",     "345 ",
                           "!!",   "\n",    "  ",   "é",       "don't ", "ab"};
    size_t k = 0;
    while (k + 8 < n) {
        const char *w = words[fr_rng_below(&r, 12)];
        memcpy(c + k, w, strlen(w));
        k += strlen(w);
    }
    struct fr_tokenizer *a = NULL, *b = NULL;
    CHECK(fr_tokenizer_train_bpe(c, k, 400, &a) == 0, "train a");
    CHECK(fr_tokenizer_train_bpe(c, k, 400, &b) == 0, "train b");
    if (a && b) {
        check_same_tokenizer(a, b, "bpe training is deterministic");
        check_twin(a, 0, "trained bpe vs twin", "the nabo'123!\n", 300);
        check_roundtrip(a, "trained bpe", 300, "the nabo'123!\n", 11);
        check_save_load(a, "trained bpe");
    }
    fr_tokenizer_free(a);
    fr_tokenizer_free(b);
    free(c);
}

static void test_shakespeare(void) {
    size_t n;
    uint8_t *text = read_file("data/tinyshakespeare.txt", &n);
    CHECK(text != NULL, "data/tinyshakespeare.txt missing");
    if (!text) return;
    struct fr_tokenizer *c = NULL, *t = NULL;
    CHECK(fr_tokenizer_train_char(text, n, &c) == 0 && fr_tokenizer_vocab_size(c) == 65,
          "shakespeare: 65 characters (nanoGPT's shakespeare_char)");
    fr_tokenizer_free(c);
    double t0 = fr_seconds();
    int rc = fr_tokenizer_train_bpe(text, n, 512, &t);
    double t1 = fr_seconds();
    CHECK(rc == 0 && fr_tokenizer_vocab_size(t) == 512, "shakespeare bpe 512: %s", fr_last_error());
    if (t) {
        int32_t *ids;
        int64_t k;
        double t2 = fr_seconds();
        rc = fr_tokenizer_encode(t, text, n, 0, &ids, &k);
        double t3 = fr_seconds();
        CHECK(rc == 0, "encode shakespeare");
        uint8_t *back;
        size_t len;
        fr_tokenizer_decode(t, ids, k, 0, &back, &len);
        double t4 = fr_seconds();
        CHECK(len == n && memcmp(back, text, n) == 0, "shakespeare round trip");
        double ratio = (double)n / (double)k;
        /* the naive Python trainer (gen_tokenizer_fixtures.py --shakespeare:
         * same pattern, counts and tie rule) gives these merges and tokens */
        uint64_t h = 0;
        for (int64_t i = 0; i < fr_tokenizer_n_merges(t); i++) {
            int32_t a, b, res;
            fr_tokenizer_merge(t, i, &a, &b, &res);
            h = h * 1000003u + (uint64_t)a * 65536u + (uint64_t)b;
        }
        CHECK(h == 0xe7b08be60d6351bULL && k == 575809, "shakespeare merges %llx, %lld tokens",
              (unsigned long long)h, (long long)k);
        CHECK(ratio > 1.9, "compression %.3f bytes/token", ratio);
        printf(
            "shakespeare bpe-512: train %.3f s, %lld tokens, %.3f bytes/token, encode %.2f Mtok/s "
            "(%.1f MB/s, warm cache after the first words), decode %.1f MB/s\n",
            t1 - t0, (long long)k, ratio, (double)k / (t3 - t2) * 1e-6,
            (double)n / (t3 - t2) * 1e-6, (double)n / (t4 - t3) * 1e-6);
        /* a sample against the naive twin */
        int32_t *want = malloc(20000 * sizeof *want);
        int32_t *got;
        int64_t kg, kw = naive_bpe(t, text, 20000, want);
        fr_tokenizer_encode(t, text, 20000, 0, &got, &kg);
        CHECK(kw == kg && memcmp(want, got, (size_t)kg * 4) == 0, "shakespeare sample vs twin");
        free(got);
        free(want);
        free(back);
        free(ids);
    }
    fr_tokenizer_free(t);
    free(text);
}

/* Loading must fail with a message, or succeed and then work. */
static void try_load(const uint8_t *buf, size_t len, int *ok, int *err) {
    struct fr_tokenizer *t = NULL;
    fr_clear_error();
    int rc = fr_tokenizer_load_memory(buf, len, &t);
    if (rc) {
        (*err)++;
        CHECK(rc < 0 && fr_last_error()[0] && !t, "failed load without a message");
        return;
    }
    (*ok)++;
    int32_t *ids;
    int64_t n;
    if (fr_tokenizer_encode(t, "hello the world\xff", 16, FR_TOK_SPECIAL, &ids, &n) == 0) {
        uint8_t *text;
        size_t l;
        if (fr_tokenizer_decode(t, ids, n, 0, &text, &l) == 0) free(text);
        free(ids);
    }
    fr_tokenizer_free(t);
}

static void expect_fail(const void *buf, size_t len, int code, const char *needle,
                        const char *what) {
    struct fr_tokenizer *t = NULL;
    int rc = fr_tokenizer_load_memory(buf, len, &t);
    CHECK(rc == code && !t && strstr(fr_last_error(), needle),
          "%s: rc %d, message \"%s\" (want %d, \"%s\")", what, rc, fr_last_error(), code, needle);
    fr_tokenizer_free(t);
}

static void put_i32(uint8_t *p, int32_t v) {
    memcpy(p, &v, 4);
}

static void test_malformed(void) {
    size_t n;
    uint8_t *bin = read_file("tests/data/tok_llama2c_tiny.bin", &n);
    /* the cuts and patches below reach 20 bytes into the file */
    CHECK(bin != NULL && n >= 20, "tests/data/tok_llama2c_tiny.bin is missing or short (%zu bytes)",
          bin ? n : 0);
    if (!bin || n < 20) {
        free(bin);
        return;
    }
    uint8_t *cp = malloc(n);
    expect_fail(bin, 2, FR_EFORMAT, "truncated header", "bin: 2 bytes");
    expect_fail(bin, 4, FR_EFORMAT, "at least 3", "bin: no tokens");
    expect_fail(bin, 4 + 8 + 3, FR_EFORMAT, "runs past the end", "bin: truncated in a token");
    expect_fail(bin, 4 + 8 + 5 + 3, FR_EFORMAT, "truncated at token 1", "bin: truncated record");
    memcpy(cp, bin, n);
    put_i32(cp + 8, -5);
    expect_fail(cp, n, FR_EFORMAT, "length -5", "bin: negative length");
    memcpy(cp, bin, n);
    put_i32(cp, 4);
    expect_fail(cp, n, FR_EFORMAT, "outside [0, 4]", "bin: token over max_token_length");
    memcpy(cp, bin, n);
    put_i32(cp, 0);
    expect_fail(cp, n, FR_EFORMAT, "max_token_length 0", "bin: max_token_length 0");
    memcpy(cp, bin, n);
    put_i32(cp + 4, 0x7fc00000); /* NaN score */
    expect_fail(cp, n, FR_EFORMAT, "NaN", "bin: NaN score");
    expect_fail(bin, 0, FR_EFORMAT, "truncated", "empty file");
    CHECK(fr_tokenizer_load("/nonexistent/tok.bin", &(struct fr_tokenizer *){NULL}) == FR_EIO,
          "missing file is FR_EIO");

    /* JSON */
    const char *base = "{\"model\": {\"type\": \"BPE\", \"vocab\": {%s}, \"merges\": [%s]},"
                       " \"pre_tokenizer\": {\"type\": \"ByteLevel\"}, \"added_tokens\": [%s]}";
    char vocab[8000], js[9000];
    int k = 0;
    for (int b = 0; b < 94; b++) /* the printable ASCII bytes, ids 0..93 */
        k += snprintf(vocab + k, sizeof vocab - (size_t)k, "%s\"%s%c\": %d", b ? ", " : "",
                      (b + 33 == '"' || b + 33 == '\\') ? "\\" : "", b + 33, b);
    struct {
        const char *extra_vocab, *merges, *added, *needle, *what;
        int code;
    } cases[] = {
        {", \"ab\": 94", "\"a b\"", "", NULL, "valid", 0},
        {", \"ab\": 94", "[\"a\", \"b\"]", "", NULL, "valid pair merges", 0},
        {", \"ab\": 94", "\"a c\"", "", "unknown token 'ac'", "merge result not a token",
         FR_EFORMAT},
        {", \"ab\": 94", "\"a zz\"", "", "unknown token 'zz'", "merge of unknown token",
         FR_EFORMAT},
        {", \"ab\": 94", "\"a\"", "", "not 'a b'", "merge without space", FR_EFORMAT},
        {", \"ab\": 94", "7", "", "neither", "merge of wrong type", FR_EFORMAT},
        {", \"ab\": 940", "", "", "ids must be 0..N-1", "id out of range", FR_EFORMAT},
        {", \"ab\": 93, \"cd\": 94", "", "", "used twice", "duplicate id", FR_EFORMAT},
        {", \"ab\": -1", "", "", "bad id", "negative id", FR_EFORMAT},
        {", \"ab\": 1.5", "", "", "bad id", "fractional id", FR_EFORMAT},
        {", \"ab\": \"x\"", "", "", "bad id", "string id", FR_EFORMAT},
        {", \"ab\": 95", "", "{\"id\": 95, \"content\": \"ab\"}", "no token has id 94",
         "hole in ids", FR_EFORMAT},
        {", \"\\u2603\": 94", "", "", "not byte-level", "non byte-level token", FR_EFORMAT},
        {"", "", "{\"id\": 94, \"content\": \"<|endoftext|>\", \"special\": true}", NULL,
         "added token", 0},
        {"", "", "{\"id\": 3, \"content\": \"<x>\"}", "reuses id 3", "added token clash",
         FR_EFORMAT},
        {"", "", "{\"id\": 94}", "no content", "added token without content", FR_EFORMAT},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char v[8100];
        snprintf(v, sizeof v, "%s%s", vocab, cases[c].extra_vocab);
        snprintf(js, sizeof js, base, v, cases[c].merges, cases[c].added);
        if (cases[c].code) {
            expect_fail(js, strlen(js), cases[c].code, cases[c].needle, cases[c].what);
        } else {
            struct fr_tokenizer *t = NULL;
            CHECK(fr_tokenizer_load_memory(js, strlen(js), &t) == 0, "%s: %s", cases[c].what,
                  fr_last_error());
            fr_tokenizer_free(t);
        }
    }
    expect_fail("{\"model\": ", 10, FR_EFORMAT, "invalid JSON", "bad JSON");
    expect_fail("{}", 2, FR_EFORMAT, "no \"model\"", "no model");
    const char *wp = "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {}}}";
    expect_fail(wp, strlen(wp), FR_EFORMAT, "not supported", "WordPiece");
    const char *nb = "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": []}}";
    expect_fail(nb, strlen(nb), FR_EFORMAT, "only ByteLevel", "BPE without ByteLevel or fallback");

    /* every truncation and random corruptions of each format: error or a
     * working tokenizer, never a crash (the sanitizer build checks memory) */
    const char *files[] = {"tests/data/tok_llama2c_tiny.bin", "tests/data/tok_gpt2_tiny.json",
                           "tests/data/tok_llama_tiny.json", NULL};
    char saved[768];
    snprintf(saved, sizeof saved, "%s", check_tmp("tok_m.bin"));
    struct fr_tokenizer *g = load(files[1]);
    if (g) CHECK(fr_tokenizer_save(g, saved) == 0, "save %s: %s", saved, fr_last_error());
    fr_tokenizer_free(g);
    files[3] = saved;
    struct fr_rng r;
    fr_rng_seed(&r, 17);
    for (int f = 0; f < 4; f++) {
        size_t len;
        uint8_t *buf = read_file(files[f], &len);
        CHECK(buf != NULL && len > 0, "%s is missing or empty", files[f]);
        if (!buf || len == 0) {
            free(buf);
            continue;
        }
        int ok = 0, err = 0;
        size_t step = len / 300 + 1;
        for (size_t cut = 0; cut < len; cut += step)
            try_load(buf, cut, &ok, &err);
        CHECK(err > 0, "%s: truncations must fail", files[f]);
        uint8_t *m = malloc(len);
        for (int it = 0; it < 300; it++) {
            memcpy(m, buf, len);
            int flips = 1 + (int)fr_rng_below(&r, 4);
            for (int q = 0; q < flips; q++) {
                size_t at = (size_t)fr_rng_below(&r, len);
                m[at] = it % 2 ? (uint8_t)fr_rng_below(&r, 256) : m[at] ^ 0x80;
            }
            try_load(m, len, &ok, &err);
        }
        free(m);
        free(buf);
    }
    free(cp);
    free(bin);
}

int main(void) {
    double t0 = fr_seconds();
    test_pretok();
    test_known();
    test_gpt2_real();
    test_char();
    test_roundtrips();
    test_bpe_train();
    test_malformed();
    test_shakespeare();
    printf("test_tokenizer: %.2f s\n", fr_seconds() - t0);
    return check_report("test_tokenizer");
}

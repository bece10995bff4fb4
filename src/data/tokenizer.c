/* tokenizer.c: the common part of struct fr_tokenizer: the hash maps, the
 * builder the loaders use, encode/decode dispatch, accessors, and frugal's
 * own file format.
 *
 * frugal format (little-endian):
 *     "FRTOKv1\n"                         8-byte magic
 *     u32 kind, u32 flags                 flags: 1 merge_by_score, 2 dummy_prefix,
 *                                         4 ignore_merges
 *     i64 n_vocab, i64 n_merges
 *     i32 bos, i32 eos                    -1 for none
 *     n_vocab x { u32 len, f32 score, u8 attr, len bytes }
 *     n_merges x { i32 a, i32 b, i32 result }
 * Everything a vocabulary needs is explicit, so a tokenizer loaded from a
 * tokenizer.json or tokenizer.bin saves and reloads to the same encoder.
 * Loaders treat their input as hostile: every size is checked before use. */
#include "../core/file.h"
#include "tokenizer_internal.h"

#include "frugal/status.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FR_TOK_MAX_LEN 65536 /* longest token accepted by any loader */

static const char g_magic[8] = {'F', 'R', 'T', 'O', 'K', 'v', '1', '\n'};

/* ---------------------------------------------------------------- maps */

uint64_t fr_tok_hash(const uint8_t *s, size_t n) {
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a, then a final mix */
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 0x100000001b3ULL;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 32;
    return h ? h : 1;
}

int fr_smap_init(struct fr_smap *m, uint64_t cap) {
    memset(m, 0, sizeof *m);
    uint64_t c = 16;
    while (c < cap * 2)
        c <<= 1;
    m->hash = calloc(c, sizeof *m->hash);
    m->koff = malloc(c * sizeof *m->koff);
    m->val = malloc(c * sizeof *m->val);
    if (!m->hash || !m->koff || !m->val) {
        fr_smap_free(m);
        return fr_error(FR_ENOMEM, "tokenizer: out of memory (map of %llu)", (unsigned long long)c);
    }
    m->cap = c;
    return 0;
}

void fr_smap_free(struct fr_smap *m) {
    free(m->hash);
    free(m->koff);
    free(m->val);
    free(m->keys);
    memset(m, 0, sizeof *m);
}

static uint64_t smap_find(const struct fr_smap *m, const uint8_t *k, size_t n, uint64_t h) {
    uint64_t mask = m->cap - 1, i = h & mask;
    while (m->hash[i]) {
        if (m->hash[i] == h && (m->koff[i] & 0xFFFFF) == n &&
            memcmp(m->keys + (m->koff[i] >> 20), k, n) == 0)
            return i;
        i = (i + 1) & mask;
    }
    return i;
}

int fr_smap_get(const struct fr_smap *m, const uint8_t *k, size_t n, int64_t *val) {
    if (!m->cap || n >= (1u << 20)) return 0;
    uint64_t i = smap_find(m, k, n, fr_tok_hash(k, n));
    if (!m->hash[i]) return 0;
    *val = m->val[i];
    return 1;
}

static int smap_grow(struct fr_smap *m) {
    struct fr_smap b = *m;
    uint64_t c = m->cap * 2;
    m->hash = calloc(c, sizeof *m->hash);
    m->koff = malloc(c * sizeof *m->koff);
    m->val = malloc(c * sizeof *m->val);
    if (!m->hash || !m->koff || !m->val) {
        free(m->hash);
        free(m->koff);
        free(m->val);
        *m = b;
        return fr_error(FR_ENOMEM, "tokenizer: out of memory growing a map");
    }
    m->cap = c;
    for (uint64_t i = 0; i < b.cap; i++) {
        if (!b.hash[i]) continue;
        uint64_t j = b.hash[i] & (c - 1);
        while (m->hash[j])
            j = (j + 1) & (c - 1);
        m->hash[j] = b.hash[i];
        m->koff[j] = b.koff[i];
        m->val[j] = b.val[i];
    }
    free(b.hash);
    free(b.koff);
    free(b.val);
    return 0;
}

int fr_smap_put(struct fr_smap *m, const uint8_t *k, size_t n, int64_t val, int64_t **slot_val) {
    if (n >= (1u << 20)) return fr_error(FR_EINVAL, "tokenizer: key of %zu bytes too long", n);
    if ((m->count + 1) * 2 > m->cap) {
        int rc = smap_grow(m);
        if (rc) return rc;
    }
    uint64_t h = fr_tok_hash(k, n), i = smap_find(m, k, n, h);
    if (m->hash[i]) {
        if (slot_val) *slot_val = &m->val[i];
        return 0;
    }
    if (!m->keys || m->keys_len + n > m->keys_cap) {
        size_t c = m->keys_cap ? m->keys_cap * 2 : 4096;
        while (c < m->keys_len + n)
            c *= 2;
        uint8_t *p = realloc(m->keys, c);
        if (!p) return fr_error(FR_ENOMEM, "tokenizer: out of memory (map keys)");
        m->keys = p;
        m->keys_cap = c;
    }
    if (n) memcpy(m->keys + m->keys_len, k, n);
    m->hash[i] = h;
    m->koff[i] = (uint64_t)m->keys_len << 20 | n;
    m->val[i] = val;
    m->keys_len += n;
    m->count++;
    if (slot_val) *slot_val = &m->val[i];
    return 1;
}

int fr_imap_init(struct fr_imap *m, uint64_t cap) {
    memset(m, 0, sizeof *m);
    uint64_t c = 16;
    while (c < cap * 2)
        c <<= 1;
    m->key = malloc(c * sizeof *m->key);
    m->val = malloc(c * sizeof *m->val);
    if (!m->key || !m->val) {
        fr_imap_free(m);
        return fr_error(FR_ENOMEM, "tokenizer: out of memory (pair map)");
    }
    memset(m->key, 0xFF, c * sizeof *m->key);
    m->cap = c;
    return 0;
}

void fr_imap_free(struct fr_imap *m) {
    free(m->key);
    free(m->val);
    memset(m, 0, sizeof *m);
}

static inline uint64_t imap_slot(const struct fr_imap *m, uint64_t k) {
    uint64_t mask = m->cap - 1, i = (k * 0x9e3779b97f4a7c15ULL) >> 17 & mask;
    while (m->key[i] != UINT64_MAX && m->key[i] != k)
        i = (i + 1) & mask;
    return i;
}

int fr_imap_get(const struct fr_imap *m, uint64_t k, int64_t *val) {
    if (!m->cap) return 0;
    uint64_t i = imap_slot(m, k);
    if (m->key[i] == UINT64_MAX) return 0;
    *val = m->val[i];
    return 1;
}

int fr_imap_put(struct fr_imap *m, uint64_t k, int64_t val, int64_t **slot_val) {
    if ((m->count + 1) * 2 > m->cap) {
        struct fr_imap b = *m;
        if (fr_imap_init(m, b.cap)) {
            *m = b;
            return FR_ENOMEM;
        }
        for (uint64_t i = 0; i < b.cap; i++)
            if (b.key[i] != UINT64_MAX) {
                uint64_t j = imap_slot(m, b.key[i]);
                m->key[j] = b.key[i];
                m->val[j] = b.val[i];
            }
        m->count = b.count;
        fr_imap_free(&b);
    }
    uint64_t i = imap_slot(m, k);
    if (m->key[i] != UINT64_MAX) {
        if (slot_val) *slot_val = &m->val[i];
        return 0;
    }
    m->key[i] = k;
    m->val[i] = val;
    m->count++;
    if (slot_val) *slot_val = &m->val[i];
    return 1;
}

int fr_ids_push(struct fr_ids *a, int32_t id) {
    if (a->n == a->cap) {
        int64_t c = a->cap ? a->cap * 2 : 64;
        int32_t *p = realloc(a->v, (size_t)c * sizeof *p);
        if (!p) return fr_error(FR_ENOMEM, "tokenizer: out of memory (%lld ids)", (long long)c);
        a->v = p;
        a->cap = c;
    }
    a->v[a->n++] = id;
    return 0;
}

/* ------------------------------------------------------------- builder */

struct fr_tokenizer *fr_tok_new(int kind) {
    struct fr_tokenizer *t = calloc(1, sizeof *t);
    if (!t) {
        fr_error(FR_ENOMEM, "tokenizer: out of memory");
        return NULL;
    }
    t->kind = kind;
    t->bos = t->eos = -1;
    return t;
}

void fr_tokenizer_free(struct fr_tokenizer *t) {
    if (!t) return;
    free(t->blob);
    free(t->off);
    free(t->len);
    free(t->score);
    free(t->attr);
    fr_smap_free(&t->vocab);
    free(t->merges);
    fr_imap_free(&t->pairs);
    free(t->special);
    fr_smap_free(&t->cache);
    free(t->cache_ids);
    free(t);
}

int fr_tok_add(struct fr_tokenizer *t, const uint8_t *bytes, size_t len, float score,
               uint8_t attr) {
    if (len > FR_TOK_MAX_LEN)
        return fr_error(FR_EFORMAT, "tokenizer: token %lld is %zu bytes long (max %d)",
                        (long long)t->n, len, FR_TOK_MAX_LEN);
    if (t->n >= (1 << 24)) return fr_error(FR_EFORMAT, "tokenizer: more than 2^24 tokens");
    if (isnan(score))
        return fr_error(FR_EFORMAT, "tokenizer: token %lld has a NaN score", (long long)t->n);
    if (t->n == t->cap) {
        int64_t c = t->cap ? t->cap * 2 : 512;
        size_t *o = realloc(t->off, (size_t)c * sizeof *o);
        if (o) t->off = o;
        int32_t *l = realloc(t->len, (size_t)c * sizeof *l);
        if (l) t->len = l;
        float *s = realloc(t->score, (size_t)c * sizeof *s);
        if (s) t->score = s;
        uint8_t *a = realloc(t->attr, (size_t)c);
        if (a) t->attr = a;
        if (!o || !l || !s || !a) return fr_error(FR_ENOMEM, "tokenizer: out of memory");
        t->cap = c;
    }
    if (t->blob_len + len + 1 > t->blob_cap) {
        size_t c = t->blob_cap ? t->blob_cap * 2 : 4096;
        while (c < t->blob_len + len + 1)
            c *= 2;
        uint8_t *p = realloc(t->blob, c);
        if (!p) return fr_error(FR_ENOMEM, "tokenizer: out of memory");
        t->blob = p;
        t->blob_cap = c;
    }
    if (len) memcpy(t->blob + t->blob_len, bytes, len);
    t->off[t->n] = t->blob_len;
    t->len[t->n] = (int32_t)len;
    t->score[t->n] = score;
    t->attr[t->n] = attr;
    t->blob_len += len;
    t->blob[t->blob_len] = 0;
    t->n++;
    return 0;
}

int fr_tok_add_merge(struct fr_tokenizer *t, int32_t a, int32_t b, int32_t result) {
    if (t->n_merges == t->merges_cap) {
        int64_t c = t->merges_cap ? t->merges_cap * 2 : 256;
        int32_t *p = realloc(t->merges, (size_t)c * 3 * sizeof *p);
        if (!p) return fr_error(FR_ENOMEM, "tokenizer: out of memory (merges)");
        t->merges = p;
        t->merges_cap = c;
    }
    t->merges[3 * t->n_merges] = a;
    t->merges[3 * t->n_merges + 1] = b;
    t->merges[3 * t->n_merges + 2] = result;
    t->n_merges++;
    return 0;
}

static int hexval(uint8_t c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* The byte of a "<0xXX>" piece, or -1. */
static int byte_piece(const uint8_t *p, int32_t n) {
    if (n != 6 || p[0] != '<' || p[1] != '0' || p[2] != 'x' || p[5] != '>') return -1;
    int h = hexval(p[3]), l = hexval(p[4]);
    return h < 0 || l < 0 ? -1 : h * 16 + l;
}

int fr_tok_finish(struct fr_tokenizer *t) {
    if (t->n < 1) return fr_error(FR_EFORMAT, "tokenizer: empty vocabulary");
    for (int b = 0; b < 256; b++)
        t->byte_id[b] = -1;
    if (t->bos >= t->n || t->eos >= t->n || t->bos < -1 || t->eos < -1)
        return fr_error(FR_EFORMAT, "tokenizer: bos %d / eos %d outside the vocabulary", t->bos,
                        t->eos);
    /* BOS/EOS are control tokens: plain text never encodes to them, which
     * keeps the space-after-BOS rule of decode from eating real text */
    if (t->bos >= 0) t->attr[t->bos] |= FR_TOKA_CONTROL;
    if (t->eos >= 0) t->attr[t->eos] |= FR_TOKA_CONTROL;
    int rc = fr_smap_init(&t->vocab, (uint64_t)t->n);
    if (rc) return rc;
    int nspecial = 0;
    for (int64_t i = 0; i < t->n; i++) {
        const uint8_t *p = t->blob + t->off[i];
        if (t->kind == FR_TOK_SPM && !(t->attr[i] & FR_TOKA_CONTROL)) {
            int b = byte_piece(p, t->len[i]);
            if (b >= 0) {
                t->attr[i] |= FR_TOKA_BYTE;
                if (t->byte_id[b] < 0) t->byte_id[b] = (int32_t)i;
            }
        }
        if (t->kind != FR_TOK_SPM && t->len[i] == 1 && !(t->attr[i] & FR_TOKA_CONTROL) &&
            t->byte_id[p[0]] < 0)
            t->byte_id[p[0]] = (int32_t)i;
        if (t->attr[i] & FR_TOKA_MATCH && t->len[i] > 0) nspecial++;
        if (t->len[i] > t->max_len) t->max_len = t->len[i];
        if (!(t->attr[i] & (FR_TOKA_CONTROL | FR_TOKA_BYTE))) {
            rc = fr_smap_put(&t->vocab, p, (size_t)t->len[i], i, NULL);
            if (rc < 0) return rc;
        }
    }
    if (t->kind == FR_TOK_CHAR && t->n_merges)
        return fr_error(FR_EFORMAT, "tokenizer: a character-level vocabulary has merges");
    rc = fr_imap_init(&t->pairs, (uint64_t)t->n_merges);
    if (rc) return rc;
    for (int64_t r = 0; r < t->n_merges; r++) {
        const int32_t *m = t->merges + 3 * r;
        for (int j = 0; j < 3; j++)
            if (m[j] < 0 || m[j] >= t->n)
                return fr_error(FR_EFORMAT, "tokenizer: merge %lld uses id %d outside [0, %lld)",
                                (long long)r, m[j], (long long)t->n);
        if ((int64_t)t->len[m[0]] + t->len[m[1]] != t->len[m[2]] ||
            memcmp(t->blob + t->off[m[0]], t->blob + t->off[m[2]], (size_t)t->len[m[0]]) ||
            memcmp(t->blob + t->off[m[1]], t->blob + t->off[m[2]] + t->len[m[0]],
                   (size_t)t->len[m[1]]))
            return fr_error(FR_EFORMAT, "tokenizer: merge %lld (%d, %d) does not spell token %d",
                            (long long)r, m[0], m[1], m[2]);
        if (t->attr[m[2]] & FR_TOKA_BYTE) /* would turn the text "<0x41>" into "A" */
            return fr_error(FR_EFORMAT, "tokenizer: merge %lld produces the byte token %d",
                            (long long)r, m[2]);
        rc = fr_imap_put(&t->pairs, (uint64_t)(uint32_t)m[0] << 32 | (uint32_t)m[1], r, NULL);
        if (rc < 0) return rc;
    }
    free(t->special);
    t->special = NULL;
    t->n_special = 0;
    if (nspecial) {
        t->special = malloc((size_t)nspecial * sizeof *t->special);
        if (!t->special) return fr_error(FR_ENOMEM, "tokenizer: out of memory");
        for (int64_t i = 0; i < t->n; i++)
            if (t->attr[i] & FR_TOKA_MATCH && t->len[i] > 0)
                t->special[t->n_special++] = (int32_t)i;
        for (int i = 1; i < nspecial; i++) /* longest first, so the longest match wins */
            for (int j = i; j > 0 && t->len[t->special[j]] > t->len[t->special[j - 1]]; j--) {
                int32_t x = t->special[j];
                t->special[j] = t->special[j - 1];
                t->special[j - 1] = x;
            }
    }
    return fr_smap_init(&t->cache, 1024);
}

/* ------------------------------------------------------- encode/decode */

static int encode_span(struct fr_tokenizer *t, const uint8_t *s, size_t n, int at_start,
                       struct fr_ids *out) {
    if (!n) return 0;
    if (t->kind == FR_TOK_CHAR) {
        for (size_t i = 0; i < n; i++) {
            if (t->byte_id[s[i]] < 0)
                return fr_error(FR_EINVAL,
                                "tokenizer: byte 0x%02x at offset %zu is not in the "
                                "character vocabulary",
                                s[i], i);
            int rc = fr_ids_push(out, t->byte_id[s[i]]);
            if (rc) return rc;
        }
        return 0;
    }
    if (t->kind == FR_TOK_BPE) {
        for (size_t i = 0; i < n;) {
            size_t j = fr_pretok_next(s, n, i);
            int rc = fr_tok_encode_word(t, s + i, j - i, 0, out);
            if (rc) return rc;
            i = j;
        }
        return 0;
    }
    return fr_tok_encode_word(t, s, n, t->dummy_prefix && at_start, out);
}

int fr_tokenizer_encode(struct fr_tokenizer *t, const void *text, size_t len, int flags,
                        int32_t **ids, int64_t *n) {
    *ids = NULL;
    *n = 0;
    if (!text && len) return fr_error(FR_EINVAL, "tokenizer: NULL text");
    const uint8_t *s = text;
    struct fr_ids out = {0};
    int rc = fr_ids_push(&out, 0); /* reserve, so an empty result is non-NULL */
    if (rc) return rc;
    out.n = 0;
    if (flags & FR_TOK_BOS) {
        if (t->bos < 0) {
            rc = fr_error(FR_EINVAL, "tokenizer: this vocabulary has no BOS token");
            goto cleanup;
        }
        if ((rc = fr_ids_push(&out, t->bos))) goto cleanup;
    }
    size_t start = 0;
    if (flags & FR_TOK_SPECIAL && t->n_special) {
        for (size_t i = 0; i < len;) {
            int32_t hit = -1;
            for (int k = 0; k < t->n_special; k++) {
                int32_t id = t->special[k];
                size_t l = (size_t)t->len[id];
                if (l <= len - i && memcmp(s + i, t->blob + t->off[id], l) == 0) {
                    hit = id;
                    break;
                }
            }
            if (hit < 0) {
                i++;
                continue;
            }
            if ((rc = encode_span(t, s + start, i - start, start == 0, &out))) goto cleanup;
            if ((rc = fr_ids_push(&out, hit))) goto cleanup;
            i += (size_t)t->len[hit];
            start = i;
        }
    }
    if ((rc = encode_span(t, s + start, len - start, start == 0, &out))) goto cleanup;
    if (flags & FR_TOK_EOS) {
        if (t->eos < 0) {
            rc = fr_error(FR_EINVAL, "tokenizer: this vocabulary has no EOS token");
            goto cleanup;
        }
        if ((rc = fr_ids_push(&out, t->eos))) goto cleanup;
    }
    *ids = out.v;
    *n = out.n;
    return 0;
cleanup:
    free(out.v);
    return rc;
}

static const uint8_t g_bytes[256] = {
#define B4(i) i, i + 1, i + 2, i + 3
#define B16(i) B4(i), B4(i + 4), B4(i + 8), B4(i + 12)
#define B64(i) B16(i), B16(i + 16), B16(i + 32), B16(i + 48)
    B64(0), B64(64), B64(128), B64(192)
#undef B64
#undef B16
#undef B4
};

int fr_tokenizer_decode_piece(const struct fr_tokenizer *t, int32_t prev, int32_t id,
                              const uint8_t **piece, size_t *len) {
    if (id < 0 || id >= t->n)
        return fr_error(FR_EINVAL, "tokenizer: id %d outside [0, %lld)", id, (long long)t->n);
    const uint8_t *p = t->blob + t->off[id];
    size_t l = (size_t)t->len[id];
    if (t->attr[id] & FR_TOKA_BYTE) {
        p = &g_bytes[byte_piece(p, (int32_t)l)];
        l = 1;
    }
    if (t->dummy_prefix && (prev < 0 || prev == t->bos) && l && p[0] == ' ') p++, l--;
    *piece = p;
    *len = l;
    return 0;
}

int fr_tokenizer_decode(const struct fr_tokenizer *t, const int32_t *ids, int64_t n,
                        int skip_special, uint8_t **text, size_t *len) {
    *text = NULL;
    *len = 0;
    size_t total = 0;
    for (int64_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= t->n)
            return fr_error(FR_EINVAL, "tokenizer: id %d at position %lld outside [0, %lld)",
                            ids[i], (long long)i, (long long)t->n);
        total += (size_t)t->len[ids[i]];
    }
    uint8_t *out = malloc(total + 1);
    if (!out) return fr_error(FR_ENOMEM, "tokenizer: out of memory (%zu bytes)", total + 1);
    size_t k = 0;
    for (int64_t i = 0; i < n; i++) {
        if (skip_special && t->attr[ids[i]] & FR_TOKA_CONTROL) continue;
        const uint8_t *p;
        size_t l;
        fr_tokenizer_decode_piece(t, i ? ids[i - 1] : -1, ids[i], &p, &l);
        memcpy(out + k, p, l);
        k += l;
    }
    out[k] = 0;
    *text = out;
    *len = k;
    return 0;
}

/* ----------------------------------------------------------- accessors */

int fr_tokenizer_kind(const struct fr_tokenizer *t) {
    return t->kind;
}
int64_t fr_tokenizer_vocab_size(const struct fr_tokenizer *t) {
    return t->n;
}
int32_t fr_tokenizer_bos(const struct fr_tokenizer *t) {
    return t->bos;
}
int32_t fr_tokenizer_eos(const struct fr_tokenizer *t) {
    return t->eos;
}

int fr_tokenizer_piece(const struct fr_tokenizer *t, int32_t id, const uint8_t **bytes, size_t *len,
                       float *score) {
    if (id < 0 || id >= t->n)
        return fr_error(FR_EINVAL, "tokenizer: id %d outside [0, %lld)", id, (long long)t->n);
    *bytes = t->blob + t->off[id];
    *len = (size_t)t->len[id];
    if (score) *score = t->score[id];
    return 0;
}

int64_t fr_tokenizer_n_merges(const struct fr_tokenizer *t) {
    return t->n_merges;
}

int fr_tokenizer_merge(const struct fr_tokenizer *t, int64_t i, int32_t *a, int32_t *b,
                       int32_t *result) {
    if (i < 0 || i >= t->n_merges)
        return fr_error(FR_EINVAL, "tokenizer: merge %lld outside [0, %lld)", (long long)i,
                        (long long)t->n_merges);
    *a = t->merges[3 * i];
    *b = t->merges[3 * i + 1];
    *result = t->merges[3 * i + 2];
    return 0;
}

/* --------------------------------------------------- frugal's own format */

static void put32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> 8 * i);
}
static uint32_t get32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get64(const uint8_t *p) {
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

int fr_tokenizer_save(const struct fr_tokenizer *t, const char *path) {
    struct fr_atomic a;
    int rc = fr_atomic_open(&a, path, "tokenizer save");
    if (rc) return rc;
    uint8_t h[40];
    memcpy(h, g_magic, 8);
    put32(h + 8, (uint32_t)t->kind);
    put32(h + 12, (uint32_t)(t->merge_by_score | t->dummy_prefix << 1 | t->ignore_merges << 2));
    put32(h + 16, (uint32_t)t->n);
    put32(h + 20, (uint32_t)((uint64_t)t->n >> 32));
    put32(h + 24, (uint32_t)t->n_merges);
    put32(h + 28, (uint32_t)((uint64_t)t->n_merges >> 32));
    put32(h + 32, (uint32_t)t->bos);
    put32(h + 36, (uint32_t)t->eos);
    fr_atomic_write(&a, h, sizeof h);
    for (int64_t i = 0; !a.err && i < t->n; i++) {
        uint8_t r[9];
        uint32_t sc;
        memcpy(&sc, &t->score[i], 4);
        put32(r, (uint32_t)t->len[i]);
        put32(r + 4, sc);
        r[8] = t->attr[i] & (FR_TOKA_CONTROL | FR_TOKA_MATCH);
        fr_atomic_write(&a, r, 9);
        fr_atomic_write(&a, t->blob + t->off[i], (size_t)t->len[i]);
    }
    for (int64_t i = 0; !a.err && i < t->n_merges; i++) {
        uint8_t r[12];
        for (int j = 0; j < 3; j++)
            put32(r + 4 * j, (uint32_t)t->merges[3 * i + j]);
        fr_atomic_write(&a, r, 12);
    }
    return fr_atomic_commit(&a); /* the first failed write, if any; no file left then */
}

static int load_frugal(const uint8_t *buf, size_t len, struct fr_tokenizer **out) {
    if (len < 40) return fr_error(FR_EFORMAT, "tokenizer: frugal file truncated (header)");
    uint32_t kind = get32(buf + 8), flags = get32(buf + 12);
    uint64_t n = get64(buf + 16), nm = get64(buf + 24);
    if (kind < FR_TOK_CHAR || kind > FR_TOK_SPM)
        return fr_error(FR_EFORMAT, "tokenizer: unknown kind %u", kind);
    if (flags > 7) return fr_error(FR_EFORMAT, "tokenizer: unknown flags 0x%x", flags);
    /* encoding adds the dummy-prefix space for sentencepiece-style vocabularies only, so
     * elsewhere decoding would drop a space that encoding never added */
    if (flags & 2 && kind != FR_TOK_SPM)
        return fr_error(FR_EFORMAT,
                        "tokenizer: the dummy-prefix flag on a kind %u vocabulary (it belongs "
                        "to sentencepiece-style ones only)",
                        kind);
    /* every token takes >= 9 bytes and every merge 12: bounds n before allocating */
    if (n == 0 || n > (len - 40) / 9 || nm > (len - 40) / 12)
        return fr_error(FR_EFORMAT, "tokenizer: %llu tokens / %llu merges do not fit the file",
                        (unsigned long long)n, (unsigned long long)nm);
    struct fr_tokenizer *t = fr_tok_new((int)kind);
    if (!t) return FR_ENOMEM;
    int rc = 0;
    t->merge_by_score = flags & 1;
    t->dummy_prefix = flags >> 1 & 1;
    t->ignore_merges = flags >> 2 & 1;
    t->bos = (int32_t)get32(buf + 32);
    t->eos = (int32_t)get32(buf + 36);
    size_t p = 40;
    for (uint64_t i = 0; i < n; i++) {
        if (len - p < 9) {
            rc = fr_error(FR_EFORMAT, "tokenizer: file truncated at token %llu",
                          (unsigned long long)i);
            goto cleanup;
        }
        uint32_t l = get32(buf + p), sc = get32(buf + p + 4);
        uint8_t attr = buf[p + 8];
        float score;
        memcpy(&score, &sc, 4);
        p += 9;
        if (l > len - p) {
            rc = fr_error(FR_EFORMAT, "tokenizer: token %llu length %u runs past the end",
                          (unsigned long long)i, l);
            goto cleanup;
        }
        if (attr & ~(FR_TOKA_CONTROL | FR_TOKA_MATCH)) {
            rc = fr_error(FR_EFORMAT, "tokenizer: token %llu has unknown attributes 0x%x",
                          (unsigned long long)i, attr);
            goto cleanup;
        }
        if ((rc = fr_tok_add(t, buf + p, l, score, attr))) goto cleanup;
        p += l;
    }
    if ((len - p) / 12 != nm || (len - p) % 12) {
        rc = fr_error(FR_EFORMAT, "tokenizer: %zu bytes left for %llu merges", len - p,
                      (unsigned long long)nm);
        goto cleanup;
    }
    for (uint64_t i = 0; i < nm; i++, p += 12)
        if ((rc = fr_tok_add_merge(t, (int32_t)get32(buf + p), (int32_t)get32(buf + p + 4),
                                   (int32_t)get32(buf + p + 8))))
            goto cleanup;
    if (t->merge_by_score && t->n_merges) {
        rc = fr_error(FR_EFORMAT, "tokenizer: score-merged vocabulary with a merge list");
        goto cleanup;
    }
    if ((rc = fr_tok_finish(t))) goto cleanup;
    *out = t;
    return 0;
cleanup:
    fr_tokenizer_free(t);
    return rc;
}

int fr_tokenizer_load_memory(const void *buf, size_t len, struct fr_tokenizer **out) {
    *out = NULL;
    const uint8_t *b = buf;
    if (len >= 8 && memcmp(b, g_magic, 8) == 0) return load_frugal(b, len, out);
    size_t i = 0;
    while (i < len && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r'))
        i++;
    /* a llama2.c file starting with max_token_length 123 also begins with '{',
     * but JSON text has no NUL in its first four bytes */
    if (i < len && b[i] == '{' && !(len >= 4 && i == 0 && memchr(b, 0, 4)))
        return fr_tok_load_hf(b, len, out);
    return fr_tok_load_llama2c(b, len, out);
}

int fr_tokenizer_load(const char *path, struct fr_tokenizer **out) {
    *out = NULL;
    size_t len;
    uint8_t *buf = (uint8_t *)fr_read_file(path, (size_t)1 << 30, &len);
    if (!buf) {
        char msg[400];
        snprintf(msg, sizeof msg, "%s", fr_last_error());
        return fr_error(FR_EIO, "tokenizer: %s", msg);
    }
    int rc = fr_tokenizer_load_memory(buf, len, out);
    if (rc) {
        char msg[400];
        snprintf(msg, sizeof msg, "%s", fr_last_error());
        fr_error(rc, "%s: %s", path, msg);
    }
    free(buf);
    return rc;
}

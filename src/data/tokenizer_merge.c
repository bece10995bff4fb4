/* tokenizer_merge.c: encoding one span of text by BPE merges.
 *
 * The span becomes a doubly linked list of symbols (bytes for byte-level
 * BPE; whole UTF-8 characters with <0xXX> byte fallback for sentencepiece,
 * grouped exactly as llama2.c groups them). Every adjacent pair that can
 * merge sits in a binary heap keyed by (priority, position of its left
 * symbol); the loop pops the best pair, skips it if either symbol changed
 * since it was pushed, merges, and pushes the two new neighbour pairs. The
 * priority is the merge rank (Hugging Face's Word::merge_all, which GPT-2's
 * encoder.py matches) or minus the score of the joined token (llama2.c's
 * encode, which takes the best score, leftmost on ties). This is O(n log n)
 * where llama2.c's rescan is O(n^2); test_tokenizer.c compares the two.
 *
 * Byte-level words of up to 64 bytes are cached (word -> ids), which is what
 * makes encoding fast on natural text; the cache is why encode is not
 * thread-safe on one tokenizer.
 */
#include "tokenizer_internal.h"

#include "frugal/status.h"

#include <stdlib.h>
#include <string.h>

#define CACHE_MAX_WORD 64
#define CACHE_MAX_ENTRIES (1 << 18)
#define STACK_SYMS 256

struct sym {
    int32_t id, prev, next;
};

struct cand {
    double prio;
    int32_t left, right, lid, rid, result;
};

struct heap {
    struct cand *v;
    int64_t n;
};

static inline int cand_less(const struct cand *a, const struct cand *b) {
    return a->prio < b->prio || (a->prio == b->prio && a->left < b->left);
}

static void heap_push(struct heap *h, struct cand c) {
    int64_t i = h->n++;
    while (i > 0) {
        int64_t p = (i - 1) / 2;
        if (!cand_less(&c, &h->v[p])) break;
        h->v[i] = h->v[p];
        i = p;
    }
    h->v[i] = c;
}

static struct cand heap_pop(struct heap *h) {
    struct cand top = h->v[0], last = h->v[--h->n];
    int64_t i = 0;
    for (;;) {
        int64_t l = 2 * i + 1, m = i;
        const struct cand *best = &last;
        if (l < h->n && cand_less(&h->v[l], best)) m = l, best = &h->v[l];
        if (l + 1 < h->n && cand_less(&h->v[l + 1], best)) m = l + 1;
        if (m == i) break;
        h->v[i] = h->v[m];
        i = m;
    }
    if (h->n) h->v[i] = last;
    return top;
}

/* Pushes the candidate merge of symbols l and r, if they can merge. */
static void push_pair(const struct fr_tokenizer *t, struct heap *h, const struct sym *sy, int32_t l,
                      int32_t r, uint8_t *join) {
    if (l < 0 || r < 0) return;
    int32_t a = sy[l].id, b = sy[r].id, res;
    double prio;
    int64_t v;
    if (t->merge_by_score) {
        int32_t la = t->len[a], lb = t->len[b];
        if (la + lb > t->max_len) return;
        memcpy(join, t->blob + t->off[a], (size_t)la);
        memcpy(join + la, t->blob + t->off[b], (size_t)lb);
        if (!fr_smap_get(&t->vocab, join, (size_t)(la + lb), &v)) return;
        res = (int32_t)v;
        prio = -(double)t->score[res];
    } else {
        if (!fr_imap_get(&t->pairs, (uint64_t)(uint32_t)a << 32 | (uint32_t)b, &v)) return;
        res = t->merges[3 * v + 2];
        prio = (double)v;
    }
    heap_push(h, (struct cand){prio, l, r, a, b, res});
}

/* Initial symbols of s[0..n) into sy; returns their count or an error. */
static int64_t initial_symbols(const struct fr_tokenizer *t, const uint8_t *s, size_t n, int dummy,
                               struct sym *sy) {
    int64_t m = 0, v;
    if (dummy) { /* llama2.c: the prefix space is a symbol of its own */
        if (fr_smap_get(&t->vocab, (const uint8_t *)" ", 1, &v))
            sy[m++].id = (int32_t)v;
        else if (t->byte_id[' '] >= 0)
            sy[m++].id = t->byte_id[' '];
        else
            return fr_error(FR_EINVAL, "tokenizer: no token for the dummy-prefix space");
    }
    if (t->kind == FR_TOK_BPE) {
        for (size_t i = 0; i < n; i++) {
            if (t->byte_id[s[i]] < 0)
                return fr_error(FR_EINVAL, "tokenizer: byte 0x%02x has no token", s[i]);
            sy[m++].id = t->byte_id[s[i]];
        }
        return m;
    }
    for (size_t i = 0; i < n;) { /* llama2.c: a lead byte plus up to 3 continuation bytes */
        size_t j = i + 1;
        while (j < n && j - i < 4 && (s[j] & 0xC0) == 0x80)
            j++;
        if (fr_smap_get(&t->vocab, s + i, j - i, &v)) {
            sy[m++].id = (int32_t)v;
        } else {
            for (size_t k = i; k < j; k++) {
                if (t->byte_id[s[k]] < 0)
                    return fr_error(FR_EINVAL, "tokenizer: no byte-fallback token for 0x%02x",
                                    s[k]);
                sy[m++].id = t->byte_id[s[k]];
            }
        }
        i = j;
    }
    return m;
}

static int cache_put(struct fr_tokenizer *t, const uint8_t *s, size_t n, const int32_t *ids,
                     int64_t k) {
    if (t->cache.count >= CACHE_MAX_ENTRIES) { /* full: start over */
        fr_smap_free(&t->cache);
        t->cache_len = 0;
        if (fr_smap_init(&t->cache, 1024)) return FR_ENOMEM;
    }
    if (t->cache_len + k > t->cache_cap) {
        int64_t c = t->cache_cap ? t->cache_cap * 2 : 4096;
        int32_t *p = realloc(t->cache_ids, (size_t)c * sizeof *p);
        if (!p) return fr_error(FR_ENOMEM, "tokenizer: out of memory (cache)");
        t->cache_ids = p;
        t->cache_cap = c;
    }
    memcpy(t->cache_ids + t->cache_len, ids, (size_t)k * sizeof *ids);
    int rc = fr_smap_put(&t->cache, s, n, t->cache_len << 8 | k, NULL);
    if (rc < 0) return rc;
    t->cache_len += k;
    return 0;
}

int fr_tok_encode_word(struct fr_tokenizer *t, const uint8_t *s, size_t n, int dummy,
                       struct fr_ids *out) {
    if (!n) return 0;
    int64_t v;
    int cacheable = t->kind == FR_TOK_BPE && n <= CACHE_MAX_WORD;
    if (cacheable && fr_smap_get(&t->cache, s, n, &v)) {
        for (int64_t i = 0; i < (v & 0xFF); i++) {
            int rc = fr_ids_push(out, t->cache_ids[(v >> 8) + i]);
            if (rc) return rc;
        }
        return 0;
    }
    if (t->kind == FR_TOK_BPE && t->ignore_merges && fr_smap_get(&t->vocab, s, n, &v))
        return fr_ids_push(out, (int32_t)v);

    struct sym sbuf[STACK_SYMS];
    struct cand cbuf[3 * STACK_SYMS];
    struct sym *sy = sbuf;
    struct heap h = {cbuf, 0};
    uint8_t *join = NULL;
    int64_t rc = 0;
    if (n + 1 > STACK_SYMS) {
        sy = malloc((n + 1) * sizeof *sy);
        h.v = malloc(3 * (n + 1) * sizeof *h.v);
        if (!sy || !h.v) {
            rc = fr_error(FR_ENOMEM, "tokenizer: out of memory encoding %zu bytes", n);
            goto cleanup;
        }
    }
    if (t->merge_by_score && !(join = malloc((size_t)t->max_len + 1))) {
        rc = fr_error(FR_ENOMEM, "tokenizer: out of memory");
        goto cleanup;
    }
    int64_t m = initial_symbols(t, s, n, dummy, sy);
    if (m < 0) {
        rc = m;
        goto cleanup;
    }
    for (int64_t i = 0; i < m; i++) {
        sy[i].prev = (int32_t)i - 1;
        sy[i].next = i + 1 < m ? (int32_t)i + 1 : -1;
    }
    for (int64_t i = 0; i + 1 < m; i++)
        push_pair(t, &h, sy, (int32_t)i, (int32_t)i + 1, join);
    while (h.n) {
        struct cand c = heap_pop(&h);
        if (sy[c.left].id != c.lid || sy[c.left].next != c.right || sy[c.right].id != c.rid)
            continue; /* stale: a symbol merged since this pair was pushed */
        int32_t r = c.right;
        sy[c.left].id = c.result;
        sy[c.left].next = sy[r].next;
        if (sy[r].next >= 0) sy[sy[r].next].prev = c.left;
        sy[r].id = -1;
        push_pair(t, &h, sy, sy[c.left].prev, c.left, join);
        push_pair(t, &h, sy, c.left, sy[c.left].next, join);
    }
    int64_t first = out->n;
    for (int32_t i = m ? 0 : -1; i >= 0; i = sy[i].next)
        if ((rc = fr_ids_push(out, sy[i].id))) goto cleanup;
    if (cacheable) rc = cache_put(t, s, n, out->v + first, out->n - first);
cleanup:
    if (sy != sbuf) free(sy);
    if (h.v != cbuf) free(h.v);
    free(join);
    return (int)rc;
}

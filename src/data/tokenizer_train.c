/* tokenizer_train.c: building vocabularies from a corpus: the character
 * level set of bytes, and byte-level BPE.
 *
 * BPE training (the algorithm of Hugging Face's BpeTrainer): the corpus is
 * split into GPT-2 words and counted, so the work is over distinct words,
 * not bytes. Pair counts are kept incrementally: merging (a, b) into X only
 * visits the words that contain (a, b) (each pair keeps the list of words it
 * ever appeared in) and adjusts the counts of the pairs around each
 * occurrence. The best pair comes from a max-heap with lazy updates: a
 * popped entry whose count is stale is pushed back with its current count
 * (counts of old pairs only fall; pairs with X are pushed after the merge).
 * Ties go to the smaller (a, b), so training is deterministic. No
 * frequency threshold beyond "occurs at least twice", no special handling
 * of the end-of-word. */
#include "tokenizer_internal.h"

#include "frugal/status.h"

#include <stdlib.h>
#include <string.h>

int fr_tokenizer_train_char(const void *text, size_t len, struct fr_tokenizer **out) {
    *out = NULL;
    if (!text || !len) return fr_error(FR_EINVAL, "tokenizer: empty corpus");
    const uint8_t *s = text;
    uint8_t seen[256] = {0};
    for (size_t i = 0; i < len; i++)
        seen[s[i]] = 1;
    struct fr_tokenizer *t = fr_tok_new(FR_TOK_CHAR);
    if (!t) return FR_ENOMEM;
    int rc = 0;
    for (int b = 0; b < 256; b++)
        if (seen[b] && (rc = fr_tok_add(t, (const uint8_t[]){(uint8_t)b}, 1, 0, 0))) goto cleanup;
    if ((rc = fr_tok_finish(t))) goto cleanup;
    *out = t;
    return 0;
cleanup:
    fr_tokenizer_free(t);
    return rc;
}

struct pair {
    int64_t count;
    int32_t a, b;
    int32_t *words; /* words the pair has appeared in (may repeat or be stale) */
    int32_t nw, cw;
    int64_t pushed; /* merge step in which it was last queued as a new pair */
};

struct entry {
    int64_t count;
    int32_t a, b, p;
};

struct trainer {
    int32_t *sym; /* symbols of all distinct words, word w at sym + woff[w] */
    int64_t *woff;
    int32_t *wlen;
    int64_t *wcount;
    int64_t *stamp; /* last merge step that visited the word */
    int64_t nwords;
    struct pair *pairs;
    int64_t npairs, cpairs;
    struct fr_imap index; /* (a << 32 | b) -> pair index */
    struct entry *heap;
    int64_t nheap, cheap;
    int32_t *fresh; /* pairs with the new symbol, queued after a merge */
    int64_t nfresh, cfresh;
};

static int entry_better(const struct entry *x, const struct entry *y) {
    if (x->count != y->count) return x->count > y->count;
    if (x->a != y->a) return x->a < y->a;
    return x->b < y->b;
}

static int heap_push(struct trainer *tr, struct entry e) {
    if (tr->nheap == tr->cheap) {
        int64_t c = tr->cheap ? tr->cheap * 2 : 4096;
        struct entry *p = realloc(tr->heap, (size_t)c * sizeof *p);
        if (!p) return fr_error(FR_ENOMEM, "bpe train: out of memory (heap)");
        tr->heap = p;
        tr->cheap = c;
    }
    int64_t i = tr->nheap++;
    while (i > 0 && entry_better(&e, &tr->heap[(i - 1) / 2])) {
        tr->heap[i] = tr->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    tr->heap[i] = e;
    return 0;
}

static struct entry heap_pop(struct trainer *tr) {
    struct entry top = tr->heap[0], last = tr->heap[--tr->nheap];
    int64_t i = 0, n = tr->nheap;
    for (;;) {
        int64_t l = 2 * i + 1, m = i;
        const struct entry *best = &last;
        if (l < n && entry_better(&tr->heap[l], best)) m = l, best = &tr->heap[l];
        if (l + 1 < n && entry_better(&tr->heap[l + 1], best)) m = l + 1;
        if (m == i) break;
        tr->heap[i] = tr->heap[m];
        i = m;
    }
    if (n) tr->heap[i] = last;
    return top;
}

/* Adds delta occurrences of (a, b) in word w; returns the pair index or < 0. */
static int64_t pair_add(struct trainer *tr, int32_t a, int32_t b, int64_t delta, int32_t w) {
    int64_t *slot;
    int rc = fr_imap_put(&tr->index, (uint64_t)(uint32_t)a << 32 | (uint32_t)b, tr->npairs, &slot);
    if (rc < 0) return rc;
    if (rc == 1) {
        if (tr->npairs == tr->cpairs) {
            int64_t c = tr->cpairs ? tr->cpairs * 2 : 4096;
            struct pair *p = realloc(tr->pairs, (size_t)c * sizeof *p);
            if (!p) return fr_error(FR_ENOMEM, "bpe train: out of memory (pairs)");
            tr->pairs = p;
            tr->cpairs = c;
        }
        tr->pairs[tr->npairs] = (struct pair){0, a, b, NULL, 0, 0, -1};
        tr->npairs++;
    }
    int64_t p = *slot;
    struct pair *pr = &tr->pairs[p];
    pr->count += delta;
    if (delta > 0 && (pr->nw == 0 || pr->words[pr->nw - 1] != w)) {
        if (pr->nw == pr->cw) {
            int32_t c = pr->cw ? pr->cw * 2 : 4;
            int32_t *q = realloc(pr->words, (size_t)c * sizeof *q);
            if (!q) return fr_error(FR_ENOMEM, "bpe train: out of memory (pair words)");
            pr->words = q;
            pr->cw = c;
        }
        pr->words[pr->nw++] = w;
    }
    return p;
}

/* Queues pair p (containing the newest symbol) for the heap after this step. */
static int fresh_add(struct trainer *tr, int64_t p, int64_t step) {
    if (tr->pairs[p].pushed == step) return 0;
    tr->pairs[p].pushed = step;
    if (tr->nfresh == tr->cfresh) {
        int64_t c = tr->cfresh ? tr->cfresh * 2 : 1024;
        int32_t *q = realloc(tr->fresh, (size_t)c * sizeof *q);
        if (!q) return fr_error(FR_ENOMEM, "bpe train: out of memory");
        tr->fresh = q;
        tr->cfresh = c;
    }
    tr->fresh[tr->nfresh++] = (int32_t)p;
    return 0;
}

/* Merges every (a, b) in word w into x, updating neighbour pair counts. */
static int merge_word(struct trainer *tr, int32_t w, int32_t a, int32_t b, int32_t x,
                      int64_t step) {
    int32_t *s = tr->sym + tr->woff[w];
    int32_t n = tr->wlen[w], k = 0;
    int64_t c = tr->wcount[w];
    for (int32_t i = 0; i < n;) {
        if (i + 1 < n && s[i] == a && s[i + 1] == b) {
            int64_t p;
            if (k > 0) {
                if ((p = pair_add(tr, s[k - 1], a, -c, w)) < 0) return (int)p;
                if ((p = pair_add(tr, s[k - 1], x, c, w)) < 0) return (int)p;
                if ((p = fresh_add(tr, p, step))) return (int)p;
            }
            if (i + 2 < n) {
                if ((p = pair_add(tr, b, s[i + 2], -c, w)) < 0) return (int)p;
                if ((p = pair_add(tr, x, s[i + 2], c, w)) < 0) return (int)p;
                if ((p = fresh_add(tr, p, step))) return (int)p;
            }
            s[k++] = x;
            i += 2;
        } else {
            s[k++] = s[i++];
        }
    }
    tr->wlen[w] = k;
    return 0;
}

static void trainer_free(struct trainer *tr) {
    free(tr->sym);
    free(tr->woff);
    free(tr->wlen);
    free(tr->wcount);
    free(tr->stamp);
    for (int64_t i = 0; i < tr->npairs; i++)
        free(tr->pairs[i].words);
    free(tr->pairs);
    fr_imap_free(&tr->index);
    free(tr->heap);
    free(tr->fresh);
}

/* Counts the distinct words of the corpus into tr. */
static int count_words(struct trainer *tr, const uint8_t *s, size_t len) {
    struct fr_smap words;
    int rc = fr_smap_init(&words, 1 << 14);
    if (rc) return rc;
    int64_t cap = 1 << 14, nsym = 0;
    tr->woff = malloc((size_t)cap * sizeof *tr->woff);
    tr->wlen = malloc((size_t)cap * sizeof *tr->wlen);
    tr->wcount = malloc((size_t)cap * sizeof *tr->wcount);
    if (!tr->woff || !tr->wlen || !tr->wcount) goto nomem;
    for (size_t i = 0; i < len;) {
        size_t j = fr_pretok_next(s, len, i);
        if (j - i >= (1u << 20)) {
            rc = fr_error(FR_EINVAL, "bpe train: a word of %zu bytes is too long", j - i);
            goto cleanup;
        }
        int64_t *slot;
        rc = fr_smap_put(&words, s + i, j - i, tr->nwords, &slot);
        if (rc < 0) goto cleanup;
        if (rc == 1) {
            if (tr->nwords == cap) {
                cap *= 2;
                int64_t *o = realloc(tr->woff, (size_t)cap * sizeof *o);
                if (o) tr->woff = o;
                int32_t *l = realloc(tr->wlen, (size_t)cap * sizeof *l);
                if (l) tr->wlen = l;
                int64_t *c = realloc(tr->wcount, (size_t)cap * sizeof *c);
                if (c) tr->wcount = c;
                if (!o || !l || !c) goto nomem;
            }
            tr->woff[tr->nwords] = nsym;
            tr->wlen[tr->nwords] = (int32_t)(j - i);
            tr->wcount[tr->nwords] = 0;
            nsym += (int64_t)(j - i);
            tr->nwords++;
        }
        tr->wcount[*slot]++;
        i = j;
    }
    tr->sym = malloc((size_t)(nsym ? nsym : 1) * sizeof *tr->sym);
    tr->stamp = calloc((size_t)(tr->nwords ? tr->nwords : 1), sizeof *tr->stamp);
    if (!tr->sym || !tr->stamp) goto nomem;
    /* the keys blob holds the distinct words in order, back to back */
    for (int64_t k = 0; k < nsym; k++)
        tr->sym[k] = words.keys[k];
    rc = 0;
    goto cleanup;
nomem:
    rc = fr_error(FR_ENOMEM, "bpe train: out of memory counting words");
cleanup:
    fr_smap_free(&words);
    return rc;
}

int fr_tokenizer_train_bpe(const void *text, size_t len, int64_t vocab_size,
                           struct fr_tokenizer **out) {
    *out = NULL;
    if (!text || !len) return fr_error(FR_EINVAL, "bpe train: empty corpus");
    if (vocab_size < 257 || vocab_size > (1 << 20))
        return fr_error(FR_EINVAL, "bpe train: vocab_size %lld outside [257, 2^20]",
                        (long long)vocab_size);
    struct trainer tr = {0};
    struct fr_tokenizer *t = NULL;
    int64_t rc = count_words(&tr, text, len);
    if (rc) goto cleanup;
    if ((rc = fr_imap_init(&tr.index, 1 << 14))) goto cleanup;
    for (int32_t w = 0; w < tr.nwords; w++) {
        const int32_t *s = tr.sym + tr.woff[w];
        for (int32_t i = 0; i + 1 < tr.wlen[w]; i++)
            if ((rc = pair_add(&tr, s[i], s[i + 1], tr.wcount[w], w)) < 0) goto cleanup;
    }
    for (int64_t p = 0; p < tr.npairs; p++)
        if ((rc = heap_push(
                 &tr, (struct entry){tr.pairs[p].count, tr.pairs[p].a, tr.pairs[p].b, (int32_t)p})))
            goto cleanup;
    if (!(t = fr_tok_new(FR_TOK_BPE))) {
        rc = FR_ENOMEM;
        goto cleanup;
    }
    for (int b = 0; b < 256; b++)
        if ((rc = fr_tok_add(t, (const uint8_t[]){(uint8_t)b}, 1, 0, 0))) goto cleanup;
    int64_t want = vocab_size - 257;
    for (int64_t step = 1; t->n_merges < want && tr.nheap;) {
        struct entry e = heap_pop(&tr);
        struct pair *pr = &tr.pairs[e.p];
        if (e.count != pr->count) { /* stale: requeue with the current count */
            if (pr->count > 0 &&
                (rc = heap_push(&tr, (struct entry){pr->count, pr->a, pr->b, e.p})))
                goto cleanup;
            continue;
        }
        if (e.count < 2) break;
        int32_t a = pr->a, b = pr->b, x = (int32_t)t->n;
        /* the new token's bytes: a's then b's (a and b are ids < x, stored) */
        size_t la = (size_t)t->len[a], lb = (size_t)t->len[b];
        uint8_t *joined = malloc(la + lb);
        if (!joined) {
            rc = fr_error(FR_ENOMEM, "bpe train: out of memory");
            goto cleanup;
        }
        memcpy(joined, t->blob + t->off[a], la);
        memcpy(joined + la, t->blob + t->off[b], lb);
        rc = fr_tok_add(t, joined, la + lb, 0, 0);
        free(joined);
        if (rc || (rc = fr_tok_add_merge(t, a, b, x))) goto cleanup;
        tr.nfresh = 0;
        for (int32_t k = 0; k < tr.pairs[e.p].nw; k++) { /* pairs may move: index anew */
            int32_t w = tr.pairs[e.p].words[k];
            if (tr.stamp[w] == step) continue;
            tr.stamp[w] = step;
            if ((rc = merge_word(&tr, w, a, b, x, step))) goto cleanup;
        }
        pr = &tr.pairs[e.p];
        pr->count = 0;
        free(pr->words);
        pr->words = NULL;
        pr->nw = pr->cw = 0;
        for (int64_t k = 0; k < tr.nfresh; k++) {
            struct pair *q = &tr.pairs[tr.fresh[k]];
            if (q->count > 0 &&
                (rc = heap_push(&tr, (struct entry){q->count, q->a, q->b, tr.fresh[k]})))
                goto cleanup;
        }
        step++;
    }
    const char eot[] = "<|endoftext|>";
    if ((rc = fr_tok_add(t, (const uint8_t *)eot, sizeof eot - 1, 0,
                         FR_TOKA_CONTROL | FR_TOKA_MATCH)))
        goto cleanup;
    t->bos = t->eos = (int32_t)(t->n - 1);
    if ((rc = fr_tok_finish(t))) goto cleanup;
    *out = t;
    t = NULL;
cleanup:
    trainer_free(&tr);
    fr_tokenizer_free(t);
    return (int)rc;
}

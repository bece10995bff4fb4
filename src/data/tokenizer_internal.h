/* tokenizer_internal.h: the struct behind struct fr_tokenizer and the small
 * hash maps the tokenizer files share. Not a public header.
 *
 * Every vocabulary is stored the same way: token i is len[i] raw bytes at
 * blob + off[i], with a score and attribute bits. Encoding is a choice of
 *  - how text becomes initial symbols (bytes within GPT-2 pre-tokenised
 *    words, or whole UTF-8 characters with <0xXX> byte fallback), and
 *  - which adjacent pair merges next (lowest merge rank, or highest score of
 *    the concatenated token, leftmost on ties),
 * both run by one heap-based merge loop (tokenizer_merge.c). */
#ifndef FRUGAL_TOKENIZER_INTERNAL_H
#define FRUGAL_TOKENIZER_INTERNAL_H

#include "frugal/tokenizer.h"

#include <stddef.h>
#include <stdint.h>

enum {
    FR_TOKA_CONTROL = 1, /* BOS/EOS/unk/special: skipped by decode(skip_special) */
    FR_TOKA_MATCH = 2,   /* recognised in text under FR_TOK_SPECIAL */
    FR_TOKA_BYTE = 4     /* a <0xXX> byte-fallback token: decodes to one raw byte */
};

/* Bytes -> int64 map, open addressing; owns copies of its keys. */
struct fr_smap {
    uint64_t *hash; /* 0 = empty slot */
    uint64_t *koff; /* key offset << 20 | key length (length < 1 MiB) */
    int64_t *val;
    uint64_t cap, count;
    uint8_t *keys;
    size_t keys_len, keys_cap;
};

/* uint64 -> int64 map, open addressing; key UINT64_MAX is reserved. */
struct fr_imap {
    uint64_t *key;
    int64_t *val;
    uint64_t cap, count;
};

struct fr_tokenizer {
    int kind;           /* enum fr_tok_kind */
    int merge_by_score; /* SPM from llama2.c: pair priority = score of the joined token */
    int dummy_prefix;   /* SPM: prepend a space when encoding non-empty text */
    int64_t n;          /* vocabulary size */
    uint8_t *blob;      /* token bytes */
    size_t blob_len, blob_cap;
    size_t *off;
    int32_t *len;
    float *score;
    uint8_t *attr;
    int64_t cap;       /* allocated token slots */
    int32_t max_len;   /* longest token in bytes */
    int ignore_merges; /* BPE (HF ignore_merges): a word that is a token is taken whole */
    int32_t bos, eos;
    int32_t byte_id[256]; /* token of each single byte (byte or <0xXX> token), -1 if none */
    struct fr_smap vocab; /* token bytes -> id (first id wins on duplicates) */
    int32_t *merges;      /* 3 per merge: a, b, result, in rank order */
    int64_t n_merges, merges_cap;
    struct fr_imap pairs; /* (a << 32 | b) -> rank */
    int32_t *special;     /* FR_TOKA_MATCH ids, longest first */
    int n_special;
    struct fr_smap cache; /* BPE word -> (start << 8 | count) into cache_ids */
    int32_t *cache_ids;
    int64_t cache_len, cache_cap;
};

/* Maps. init returns 0 or FR_ENOMEM; get returns 1 and sets *val if found. */
uint64_t fr_tok_hash(const uint8_t *s, size_t n);
int fr_smap_init(struct fr_smap *m, uint64_t cap);
void fr_smap_free(struct fr_smap *m);
int fr_smap_get(const struct fr_smap *m, const uint8_t *k, size_t n, int64_t *val);
/* Inserts k -> val unless present; *slot_val (optional) points at the stored
 * value afterwards. Returns 1 if inserted, 0 if present, FR_ENOMEM. */
int fr_smap_put(struct fr_smap *m, const uint8_t *k, size_t n, int64_t val, int64_t **slot_val);
int fr_imap_init(struct fr_imap *m, uint64_t cap);
void fr_imap_free(struct fr_imap *m);
int fr_imap_get(const struct fr_imap *m, uint64_t k, int64_t *val);
int fr_imap_put(struct fr_imap *m, uint64_t k, int64_t val, int64_t **slot_val);

/* Builder used by the loaders and trainers: an empty tokenizer of a kind,
 * appending tokens (ids in order), then fr_tok_finish builds the lookup
 * tables (vocab map, byte ids, pair map, special list) and checks them. */
struct fr_tokenizer *fr_tok_new(int kind);
int fr_tok_add(struct fr_tokenizer *t, const uint8_t *bytes, size_t len, float score, uint8_t attr);
int fr_tok_add_merge(struct fr_tokenizer *t, int32_t a, int32_t b, int32_t result);
int fr_tok_finish(struct fr_tokenizer *t);

/* GPT-2 pre-tokenisation: the end of the word that starts at s[i] (i < n).
 * Pattern 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * over UTF-8 code points (Unicode 14 letter/number classes); a byte that is
 * not valid UTF-8 counts as one "other" character. */
size_t fr_pretok_next(const uint8_t *s, size_t n, size_t i);

/* Appends to *ids the tokens of one span of text (no special tokens):
 * a BPE word or a whole SPM text, after a dummy-prefix space symbol when
 * dummy is set (SPM only). ids grows with realloc. */
struct fr_ids {
    int32_t *v;
    int64_t n, cap;
};
int fr_ids_push(struct fr_ids *a, int32_t id);
int fr_tok_encode_word(struct fr_tokenizer *t, const uint8_t *s, size_t n, int dummy,
                       struct fr_ids *out);

/* Loaders (buffer in memory). */
int fr_tok_load_hf(const uint8_t *buf, size_t len, struct fr_tokenizer **out);
int fr_tok_load_llama2c(const uint8_t *buf, size_t len, struct fr_tokenizer **out);

#endif

/* tokenizer_hf.c: the Hugging Face tokenizer.json loader (parsed with
 * Debian's libcjson).
 *
 * Supported: model.type "BPE" with model.vocab (token -> id) and
 * model.merges ("a b" strings or ["a", "b"] pairs), added_tokens, and either
 *  - a ByteLevel pre-tokenizer or decoder (GPT-2, GPT-NeoX, LLaMA 3 ...):
 *    token strings are spelled with GPT-2's bytes_to_unicode map and turned
 *    back into raw bytes here; words come from GPT-2's pattern (a Split
 *    pre-tokenizer with another regex is approximated by it);
 *  - byte_fallback / Metaspace / ByteFallback decoder (LLaMA 1/2, Mistral):
 *    "▁" becomes a space, <0xXX> are byte tokens, a Prepend("▁") normalizer
 *    or Metaspace prefix becomes the dummy-prefix space.
 * Not supported: WordPiece/Unigram/WordLevel models, ByteLevel
 * add_prefix_space, dropout, continuing_subword_prefix. BOS/EOS are not in
 * tokenizer.json (they live in tokenizer_config.json) and are guessed from
 * the added tokens. Everything is validated: ids must be exactly 0..N-1,
 * merges must name known tokens whose join is a token. */
#include "tokenizer_internal.h"

#include "frugal/status.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* GPT-2's bytes_to_unicode inverted: code point (< 324) -> byte, or -1. */
static void unicode_to_bytes(int16_t inv[324]) {
    for (int i = 0; i < 324; i++)
        inv[i] = -1;
    int extra = 0;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
        inv[printable ? b : 256 + extra++] = (int16_t)b;
    }
}

static int has_type(const cJSON *o, const char *name) {
    if (!cJSON_IsObject(o)) return 0;
    const cJSON *ty = cJSON_GetObjectItemCaseSensitive(o, "type");
    if (cJSON_IsString(ty) && strcmp(ty->valuestring, name) == 0) return 1;
    static const char *lists[] = {"pretokenizers", "decoders", "normalizers", "processors"};
    for (int k = 0; k < 4; k++) {
        const cJSON *l = cJSON_GetObjectItemCaseSensitive(o, lists[k]), *e;
        if (!cJSON_IsArray(l)) continue;
        cJSON_ArrayForEach(e, l) if (has_type(e, name)) return 1;
    }
    return 0;
}

/* Whether a Metaspace component anywhere under o prepends "▁". */
static int metaspace_prefix(const cJSON *o) {
    if (!cJSON_IsObject(o) && !cJSON_IsArray(o)) return 0;
    const cJSON *ty = cJSON_GetObjectItemCaseSensitive(o, "type");
    if (cJSON_IsString(ty) && strcmp(ty->valuestring, "Metaspace") == 0) {
        const cJSON *aps = cJSON_GetObjectItemCaseSensitive(o, "add_prefix_space");
        const cJSON *ps = cJSON_GetObjectItemCaseSensitive(o, "prepend_scheme");
        if (cJSON_IsString(ps)) return strcmp(ps->valuestring, "never") != 0;
        return !cJSON_IsFalse(aps);
    }
    const cJSON *e;
    cJSON_ArrayForEach(e, o) if (metaspace_prefix(e)) return 1;
    return 0;
}

/* A token for an error message: at most 40 bytes, non-printable bytes as
 * \xNN, so the message stays one line. */
struct esc {
    char s[168];
};
static struct esc esc(const char *s, size_t n) {
    struct esc e;
    size_t k = 0;
    for (size_t i = 0; i < n && i < 40; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7F)
            e.s[k++] = (char)c;
        else
            k += (size_t)snprintf(e.s + k, 5, "\\x%02x", c);
    }
    e.s[k] = 0;
    return e;
}
#define ESC(str) (esc((str), strlen(str)).s)

/* An integer id in [0, 2^24) from a JSON number, or -1. */
static int64_t json_id(const cJSON *v) {
    if (!cJSON_IsNumber(v)) return -1;
    double d = v->valuedouble;
    if (!(d >= 0 && d < (1 << 24)) || d != (double)(int64_t)d) return -1;
    return (int64_t)d;
}

/* Decodes one UTF-8 code point at s (NUL-terminated); returns its length, 0 if invalid. */
static int utf8_cp(const uint8_t *s, uint32_t *cp) {
    if (s[0] < 0x80) return *cp = s[0], 1;
    int n = (s[0] & 0xE0) == 0xC0 ? 2 : (s[0] & 0xF0) == 0xE0 ? 3 : (s[0] & 0xF8) == 0xF0 ? 4 : 0;
    if (!n) return 0;
    uint32_t c = s[0] & (0x7F >> n);
    for (int k = 1; k < n; k++) {
        if ((s[k] & 0xC0) != 0x80) return 0;
        c = c << 6 | (s[k] & 0x3F);
    }
    *cp = c;
    return n;
}

/* Token string -> raw bytes into buf (at least strlen(s) bytes). Returns the
 * length or -1 if s is not a valid spelling. */
static int64_t to_bytes(const char *str, int byte_level, const int16_t *inv, uint8_t *buf) {
    const uint8_t *s = (const uint8_t *)str;
    int64_t k = 0;
    while (*s) {
        if (byte_level) {
            uint32_t cp;
            int l = utf8_cp(s, &cp);
            if (!l || cp >= 324 || inv[cp] < 0) return -1;
            buf[k++] = (uint8_t)inv[cp];
            s += l;
        } else if (s[0] == 0xE2 && s[1] == 0x96 && s[2] == 0x81) { /* U+2581 "▁" */
            buf[k++] = ' ';
            s += 3;
        } else {
            buf[k++] = *s++;
        }
    }
    return k;
}

struct hf_tok {
    const char *str;
    int added, special;
};

static int load_tokens(struct fr_tokenizer *t, const cJSON *vocab, const cJSON *added,
                       int byte_level, struct fr_smap *by_str) {
    int rc = 0;
    int64_t count = cJSON_GetArraySize(vocab) + cJSON_GetArraySize(added), n = 0, eot = -1;
    struct hf_tok *tok = NULL;
    uint8_t *buf = NULL;
    int16_t inv[324];
    unicode_to_bytes(inv);
    const cJSON *e;
    cJSON_ArrayForEach(e, vocab) {
        int64_t id = json_id(e);
        if (id < 0)
            return fr_error(FR_EFORMAT, "tokenizer.json: vocab entry '%s' has a bad id",
                            ESC(e->string));
        if (id + 1 > n) n = id + 1;
    }
    cJSON_ArrayForEach(e, added) {
        int64_t id = json_id(cJSON_GetObjectItemCaseSensitive(e, "id"));
        if (id < 0) return fr_error(FR_EFORMAT, "tokenizer.json: added token with a bad id");
        if (id + 1 > n) n = id + 1;
    }
    if (n == 0) return fr_error(FR_EFORMAT, "tokenizer.json: empty vocab");
    if (n > count)
        return fr_error(FR_EFORMAT,
                        "tokenizer.json: ids reach %lld but there are only %lld "
                        "tokens (ids must be 0..N-1)",
                        (long long)n - 1, (long long)count);
    if (!(tok = calloc((size_t)n, sizeof *tok)) || (rc = fr_smap_init(by_str, (uint64_t)n))) {
        rc = rc ? rc : fr_error(FR_ENOMEM, "tokenizer.json: out of memory");
        goto cleanup;
    }
    cJSON_ArrayForEach(e, vocab) {
        int64_t id = json_id(e);
        if (tok[id].str) {
            rc = fr_error(FR_EFORMAT, "tokenizer.json: id %lld used twice ('%s', '%s')",
                          (long long)id, ESC(tok[id].str), ESC(e->string));
            goto cleanup;
        }
        tok[id].str = e->string;
    }
    cJSON_ArrayForEach(e, added) {
        int64_t id = json_id(cJSON_GetObjectItemCaseSensitive(e, "id"));
        const cJSON *c = cJSON_GetObjectItemCaseSensitive(e, "content");
        if (!cJSON_IsString(c) || !c->valuestring[0]) {
            rc = fr_error(FR_EFORMAT, "tokenizer.json: added token %lld has no content",
                          (long long)id);
            goto cleanup;
        }
        if (tok[id].str && (tok[id].added || strcmp(tok[id].str, c->valuestring))) {
            rc = fr_error(FR_EFORMAT, "tokenizer.json: added token '%s' reuses id %lld",
                          ESC(c->valuestring), (long long)id);
            goto cleanup;
        }
        tok[id].str = c->valuestring;
        tok[id].added = 1;
        tok[id].special = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "special"));
    }
    for (int64_t id = 0; id < n; id++) {
        if (!tok[id].str) {
            rc = fr_error(FR_EFORMAT, "tokenizer.json: no token has id %lld (ids must be 0..N-1)",
                          (long long)id);
            goto cleanup;
        }
        size_t sl = strlen(tok[id].str);
        uint8_t *b = realloc(buf, sl + 1);
        if (!b) {
            rc = fr_error(FR_ENOMEM, "tokenizer.json: out of memory");
            goto cleanup;
        }
        buf = b;
        int64_t bl;
        uint8_t attr = 0;
        if (tok[id].added) {
            memcpy(buf, tok[id].str, sl);
            bl = (int64_t)sl;
            attr = FR_TOKA_MATCH | (tok[id].special ? FR_TOKA_CONTROL : 0);
        } else if ((bl = to_bytes(tok[id].str, byte_level, inv, buf)) < 0) {
            rc = fr_error(FR_EFORMAT,
                          "tokenizer.json: token %lld '%s' is not byte-level "
                          "spelled",
                          (long long)id, ESC(tok[id].str));
            goto cleanup;
        }
        if ((rc = fr_tok_add(t, buf, (size_t)bl, 0, attr))) goto cleanup;
        if ((rc = fr_smap_put(by_str, (const uint8_t *)tok[id].str, sl, id, NULL)) < 0)
            goto cleanup;
        rc = 0;
        const char *s = tok[id].str;
        if (!tok[id].added) continue;
        if (strcmp(s, "<s>") == 0 || strcmp(s, "<|begin_of_text|>") == 0) t->bos = (int32_t)id;
        if (strcmp(s, "</s>") == 0 || strcmp(s, "<|end_of_text|>") == 0) t->eos = (int32_t)id;
        if (strcmp(s, "<|endoftext|>") == 0) eot = id;
    }
    if (eot >= 0) {
        if (t->bos < 0) t->bos = (int32_t)eot;
        if (t->eos < 0) t->eos = (int32_t)eot;
    }
cleanup:
    free(tok);
    free(buf);
    return rc;
}

static int lookup(const struct fr_smap *by_str, const char *s, size_t n, int64_t r, int32_t *id) {
    int64_t v;
    if (!fr_smap_get(by_str, (const uint8_t *)s, n, &v))
        return fr_error(FR_EFORMAT, "tokenizer.json: merge %lld references unknown token '%s'",
                        (long long)r, esc(s, n).s);
    *id = (int32_t)v;
    return 0;
}

static int load_merges(struct fr_tokenizer *t, const cJSON *merges, const struct fr_smap *by_str) {
    int64_t r = 0;
    char *join = NULL;
    size_t cap = 0;
    int rc = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, merges) {
        const char *a, *b;
        size_t la, lb;
        if (cJSON_IsString(e)) {
            const char *sp = strchr(e->valuestring, ' ');
            if (!sp || strchr(sp + 1, ' ') || sp == e->valuestring || !sp[1]) {
                rc = fr_error(FR_EFORMAT, "tokenizer.json: merge %lld '%s' is not 'a b'",
                              (long long)r, ESC(e->valuestring));
                goto cleanup;
            }
            a = e->valuestring, la = (size_t)(sp - a), b = sp + 1, lb = strlen(b);
        } else if (cJSON_GetArraySize(e) == 2 && cJSON_IsString(cJSON_GetArrayItem(e, 0)) &&
                   cJSON_IsString(cJSON_GetArrayItem(e, 1))) {
            a = cJSON_GetArrayItem(e, 0)->valuestring, la = strlen(a);
            b = cJSON_GetArrayItem(e, 1)->valuestring, lb = strlen(b);
        } else {
            rc = fr_error(FR_EFORMAT, "tokenizer.json: merge %lld is neither 'a b' nor [a, b]",
                          (long long)r);
            goto cleanup;
        }
        int32_t ia = 0, ib = 0, ir = 0;
        if ((rc = lookup(by_str, a, la, r, &ia)) || (rc = lookup(by_str, b, lb, r, &ib)))
            goto cleanup;
        if (la + lb > cap) {
            cap = (la + lb) * 2;
            char *p = realloc(join, cap);
            if (!p) {
                rc = fr_error(FR_ENOMEM, "tokenizer.json: out of memory");
                goto cleanup;
            }
            join = p;
        }
        memcpy(join, a, la);
        memcpy(join + la, b, lb);
        if ((rc = lookup(by_str, join, la + lb, r, &ir))) goto cleanup;
        if ((rc = fr_tok_add_merge(t, ia, ib, ir))) goto cleanup;
        r++;
    }
cleanup:
    free(join);
    return rc;
}

int fr_tok_load_hf(const uint8_t *buf, size_t len, struct fr_tokenizer **out) {
    *out = NULL;
    struct fr_tokenizer *t = NULL;
    struct fr_smap by_str = {0};
    int rc = 0;
    cJSON *root = cJSON_ParseWithLength((const char *)buf, len);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        size_t off = at && at >= (const char *)buf && at <= (const char *)buf + len
                         ? (size_t)(at - (const char *)buf)
                         : 0;
        return fr_error(FR_EFORMAT, "tokenizer.json: invalid JSON near byte %zu", off);
    }
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    const cJSON *type = cJSON_GetObjectItemCaseSensitive(model, "type");
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(model, "merges");
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
    const cJSON *pre = cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer");
    const cJSON *dec = cJSON_GetObjectItemCaseSensitive(root, "decoder");
    const cJSON *norm = cJSON_GetObjectItemCaseSensitive(root, "normalizer");
    if (!cJSON_IsObject(model)) {
        rc = fr_error(FR_EFORMAT, "tokenizer.json: no \"model\" object");
        goto cleanup;
    }
    if (type && !(cJSON_IsString(type) && strcmp(type->valuestring, "BPE") == 0)) {
        rc = fr_error(FR_EFORMAT, "tokenizer.json: model type '%s' not supported (only BPE)",
                      cJSON_IsString(type) ? ESC(type->valuestring) : "?");
        goto cleanup;
    }
    if (!cJSON_IsObject(vocab) || (merges && !cJSON_IsArray(merges)) ||
        (added && !cJSON_IsNull(added) && !cJSON_IsArray(added))) {
        rc = fr_error(FR_EFORMAT, "tokenizer.json: model.vocab must be an object, model.merges "
                                  "and added_tokens arrays");
        goto cleanup;
    }
    if (!cJSON_IsArray(added)) added = NULL;
    int byte_level = has_type(pre, "ByteLevel") || has_type(dec, "ByteLevel");
    int spm = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(model, "byte_fallback")) ||
              has_type(dec, "ByteFallback") || has_type(dec, "Metaspace") ||
              has_type(pre, "Metaspace");
    if (!byte_level && !spm) {
        rc = fr_error(FR_EFORMAT, "tokenizer.json: only ByteLevel or byte-fallback "
                                  "(sentencepiece-style) BPE tokenizers are supported");
        goto cleanup;
    }
    if (!(t = fr_tok_new(byte_level ? FR_TOK_BPE : FR_TOK_SPM))) {
        rc = FR_ENOMEM;
        goto cleanup;
    }
    t->ignore_merges = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(model, "ignore_merges"));
    if (!byte_level)
        t->dummy_prefix =
            has_type(norm, "Prepend") || metaspace_prefix(pre) || metaspace_prefix(norm);
    if ((rc = load_tokens(t, vocab, added, byte_level, &by_str))) goto cleanup;
    if ((rc = load_merges(t, merges, &by_str))) goto cleanup;
    if ((rc = fr_tok_finish(t))) goto cleanup;
    *out = t;
    t = NULL;
cleanup:
    fr_smap_free(&by_str);
    fr_tokenizer_free(t);
    cJSON_Delete(root);
    return rc;
}

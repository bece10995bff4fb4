/* fuzz_tokenizer.c: libFuzzer target for the tokenizer loaders: frugal's
 * own format, Hugging Face tokenizer.json and llama2.c tokenizer.bin (the
 * format is detected from the input, as fr_tokenizer_load does).
 *
 * The input must be rejected with a one-line message, or accepted as a
 * tokenizer that then works: encoding a fixed set of texts (invalid UTF-8
 * and NUL included) either fails with a message or gives ids in range whose
 * decode is the text again (byte-level and sentencepiece kinds), and the
 * streamed pieces equal the decode. Some accepted tokenizers (a fixed
 * eighth of the inputs, by size) are also saved in frugal's format and
 * loaded back, and must encode every text to the same ids: the writer takes
 * whatever any loader accepts. Violations abort.
 */
#include "frugal/status.h"
#include "frugal/tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define REQUIRE(c)                                                                                 \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "invariant failed: %s (%s:%d)\n", #c, __FILE__, __LINE__);             \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static void exercise(struct fr_tokenizer *t, const char *s, size_t n) {
    int32_t *ids;
    int64_t k;
    fr_clear_error();
    if (fr_tokenizer_encode(t, s, n, 0, &ids, &k)) {
        REQUIRE(fr_last_error()[0]);
        return;
    }
    int64_t v = fr_tokenizer_vocab_size(t);
    for (int64_t i = 0; i < k; i++)
        REQUIRE(ids[i] >= 0 && ids[i] < v);
    uint8_t *text;
    size_t len;
    REQUIRE(fr_tokenizer_decode(t, ids, k, 0, &text, &len) == 0);
    if (fr_tokenizer_kind(t) != FR_TOK_CHAR) REQUIRE(len == n && memcmp(text, s, n) == 0);
    size_t at = 0;
    for (int64_t i = 0; i < k; i++) {
        const uint8_t *p;
        size_t l;
        REQUIRE(fr_tokenizer_decode_piece(t, i ? ids[i - 1] : -1, ids[i], &p, &l) == 0);
        REQUIRE(at + l <= len && memcmp(text + at, p, l) == 0);
        at += l;
    }
    REQUIRE(at == len);
    free(text);
    free(ids);
    if (fr_tokenizer_encode(t, s, n, FR_TOK_SPECIAL, &ids, &k) == 0) free(ids);
}

/* Saves t, loads it back and compares: same kind, vocabulary, BOS/EOS,
 * pieces and encodings. */
static void round_trip(struct fr_tokenizer *t, const char *const *texts, const size_t *lens,
                       int n) {
    static char path[512];
    if (!path[0]) {
        const char *dir = getenv("TMPDIR"); /* slow_fuzz points it at its own directory */
        snprintf(path, sizeof path, "%s/frugal-fuzz-tok-%d", dir && *dir ? dir : "/tmp",
                 (int)getpid());
    }
    REQUIRE(fr_tokenizer_save(t, path) == 0);
    struct fr_tokenizer *u = NULL;
    REQUIRE(fr_tokenizer_load(path, &u) == 0);
    REQUIRE(fr_tokenizer_kind(u) == fr_tokenizer_kind(t));
    REQUIRE(fr_tokenizer_vocab_size(u) == fr_tokenizer_vocab_size(t));
    REQUIRE(fr_tokenizer_bos(u) == fr_tokenizer_bos(t) &&
            fr_tokenizer_eos(u) == fr_tokenizer_eos(t));
    for (int64_t i = 0; i < fr_tokenizer_vocab_size(t); i++) {
        const uint8_t *a, *b;
        size_t la, lb;
        REQUIRE(fr_tokenizer_piece(t, (int32_t)i, &a, &la, NULL) == 0 &&
                fr_tokenizer_piece(u, (int32_t)i, &b, &lb, NULL) == 0);
        REQUIRE(la == lb && memcmp(a, b, la) == 0);
    }
    for (int k = 0; k < n; k++)
        for (int flags = 0; flags <= FR_TOK_SPECIAL; flags += FR_TOK_SPECIAL) {
            int32_t *x = NULL, *y = NULL;
            int64_t nx = -1, ny = -2;
            int rx = fr_tokenizer_encode(t, texts[k], lens[k], flags, &x, &nx);
            int ry = fr_tokenizer_encode(u, texts[k], lens[k], flags, &y, &ny);
            REQUIRE(rx == ry);
            if (!rx) REQUIRE(nx == ny && memcmp(x, y, (size_t)nx * sizeof *x) == 0);
            free(x);
            free(y);
        }
    fr_tokenizer_free(u);
    unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    struct fr_tokenizer *t = NULL;
    fr_clear_error();
    int rc = fr_tokenizer_load_memory(data, size, &t);
    if (rc) {
        REQUIRE(rc < 0 && !t && fr_last_error()[0] && !strchr(fr_last_error(), '\n'));
        return 0;
    }
#define T(s)                                                                                       \
    { s, sizeof s - 1 }
    static const struct {
        const char *s;
        size_t n;
    } texts[] = {T(""), T("hello world"), T(" the  end\n\n"), T("caf\xc3\xa9 \xe2\x96\x81x"),
                 T("\xff\x80\0<0x41><|endoftext|><s>")};
#undef T
    const char *tx[8];
    size_t tl[8];
    int nt = (int)(sizeof texts / sizeof texts[0]);
    for (int i = 0; i < nt; i++) {
        exercise(t, texts[i].s, texts[i].n);
        tx[i] = texts[i].s, tl[i] = texts[i].n;
    }
    if (size % 8 == 0) round_trip(t, tx, tl, nt);
    fr_tokenizer_free(t);
    return 0;
}

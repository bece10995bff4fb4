/* tokenizer.h: text <-> token ids for the language models.
 *
 * One opaque struct fr_tokenizer covers three kinds of vocabulary:
 *  - FR_TOK_CHAR: character level, the sorted set of bytes seen in a corpus
 *    (nanoGPT's shakespeare_char; bytes, so any input that uses only seen
 *    bytes round-trips; an unseen byte is an FR_EINVAL error, there is no
 *    <unk>);
 *  - FR_TOK_BPE: byte-level BPE in the GPT-2 style: 256 byte tokens, merges
 *    applied by rank inside words of the GPT-2 pre-tokenisation pattern.
 *    Trained here (fr_tokenizer_train_bpe) or loaded from a Hugging Face
 *    tokenizer.json with a ByteLevel pre-tokenizer (GPT-2, GPT-NeoX, ...);
 *  - FR_TOK_SPM: sentencepiece-style BPE: a dummy-prefix space, pieces that
 *    are whole UTF-8 characters, <0xXX> byte fallback. Loaded from a
 *    llama2.c tokenizer.bin (merges chosen by token score, exactly as
 *    llama2.c's run.c does) or from a LLaMA tokenizer.json (model BPE with
 *    byte_fallback and the "▁" metaspace; merges by rank, as HF does).
 *
 * Example:
 *     struct fr_tokenizer *t;
 *     if (fr_tokenizer_load("tokenizer.json", &t)) die(fr_last_error());
 *     int32_t *ids; int64_t n;
 *     if (fr_tokenizer_encode(t, "Hello", 5, FR_TOK_BOS, &ids, &n)) die(...);
 *     uint8_t *text; size_t len;
 *     fr_tokenizer_decode(t, ids, n, 1, &text, &len);   // "Hello"
 *     free(ids); free(text); fr_tokenizer_free(t);
 *
 * Round trip: for FR_TOK_BPE and FR_TOK_SPM (with all 256 byte tokens),
 * decode(encode(s, 0), skip_special=0) == s for every byte string s,
 * invalid UTF-8 and NUL bytes included; with FR_TOK_BOS/EOS, decode with
 * skip_special=1 gives s back.
 *
 * Threads: a tokenizer may be read (decode, accessors) from many threads,
 * but encode updates a per-tokenizer word cache, so one tokenizer must not
 * be encoded with from two threads at once.
 */
#ifndef FRUGAL_TOKENIZER_H
#define FRUGAL_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct fr_tokenizer;

enum fr_tok_kind { FR_TOK_CHAR = 1, FR_TOK_BPE = 2, FR_TOK_SPM = 3 };

/* Flags of fr_tokenizer_encode. */
enum fr_tok_flags {
    FR_TOK_BOS = 1,    /* prepend the BOS id (error if the vocabulary has none) */
    FR_TOK_EOS = 2,    /* append the EOS id (error if none) */
    FR_TOK_SPECIAL = 4 /* text spelling a special token ("<|endoftext|>") becomes that id;
                          without it, such text is encoded as ordinary bytes */
};

/* Builds a character-level tokenizer whose vocabulary is the sorted set of
 * the bytes in text[0..len), len > 0. No BOS/EOS. *out is owned by the
 * caller (fr_tokenizer_free). */
int fr_tokenizer_train_char(const void *text, size_t len, struct fr_tokenizer **out);

/* Trains a byte-level BPE tokenizer on text[0..len): the 256 byte tokens,
 * then merges learned by pair counts over GPT-2 pre-tokenised words (ties
 * broken by the smaller pair of ids, so training is deterministic), then
 * "<|endoftext|>" as the last id (BOS = EOS = it). vocab_size counts all
 * three and must be in [257, 1 << 20]; on a corpus too small to reach it the
 * vocabulary is smaller (stops when no pair occurs twice). */
int fr_tokenizer_train_bpe(const void *text, size_t len, int64_t vocab_size,
                           struct fr_tokenizer **out);

/* Loads a tokenizer, detecting the format from the contents: frugal's own
 * (fr_tokenizer_save), a Hugging Face tokenizer.json, or a llama2.c
 * tokenizer.bin. FR_EIO if the file cannot be read or is not a regular file
 * (a directory, FIFO or device is refused before it can block), FR_EFORMAT
 * with a one-line reason if it is malformed. */
int fr_tokenizer_load(const char *path, struct fr_tokenizer **out);

/* The same from a buffer in memory (not retained). */
int fr_tokenizer_load_memory(const void *buf, size_t len, struct fr_tokenizer **out);

/* Writes t in frugal's own binary format (docs at the top of tokenizer.c),
 * atomically: a unique temporary file, every write checked, renamed over
 * path; on failure (FR_EIO) path is untouched and nothing is left behind. */
int fr_tokenizer_save(const struct fr_tokenizer *t, const char *path);

/* Frees t; NULL is a no-op. */
void fr_tokenizer_free(struct fr_tokenizer *t);

/* Encodes text[0..len) into a malloc'd array *ids of *n ids (the caller
 * frees it; an empty result is a valid non-NULL array). flags: FR_TOK_*.
 * FR_EINVAL when a byte has no token (character level: unseen byte). */
int fr_tokenizer_encode(struct fr_tokenizer *t, const void *text, size_t len, int flags,
                        int32_t **ids, int64_t *n);

/* Decodes ids[0..n) into a malloc'd, NUL-terminated *text of *len bytes
 * (the caller frees it). skip_special drops control tokens (BOS, EOS, <unk>,
 * special added tokens). A sentencepiece tokenizer drops the space of the
 * dummy prefix at the start of the text and after a BOS. FR_EINVAL on an id
 * outside [0, vocab size). */
int fr_tokenizer_decode(const struct fr_tokenizer *t, const int32_t *ids, int64_t n,
                        int skip_special, uint8_t **text, size_t *len);

/* Streaming output: the bytes of token id when it follows token prev (prev
 * is -1 at the start of the text). *piece points into t (or static storage)
 * and stays valid while t lives. Concatenating the pieces of a sequence gives
 * fr_tokenizer_decode(..., skip_special = 0). */
int fr_tokenizer_decode_piece(const struct fr_tokenizer *t, int32_t prev, int32_t id,
                              const uint8_t **piece, size_t *len);

int fr_tokenizer_kind(const struct fr_tokenizer *t);
int64_t fr_tokenizer_vocab_size(const struct fr_tokenizer *t);
/* BOS / EOS ids, -1 when the vocabulary has none. For a tokenizer.json they
 * are guessed from the added tokens ("<s>"/"</s>", "<|begin_of_text|>"/
 * "<|end_of_text|>", or "<|endoftext|>" for both). */
int32_t fr_tokenizer_bos(const struct fr_tokenizer *t);
int32_t fr_tokenizer_eos(const struct fr_tokenizer *t);

/* The stored bytes of token id (for byte-level vocabularies the raw bytes,
 * not the GPT-2 unicode spelling; for sentencepiece "▁" is a space and byte
 * tokens read "<0xXX>") and its score (0 where the format has none). */
int fr_tokenizer_piece(const struct fr_tokenizer *t, int32_t id, const uint8_t **bytes, size_t *len,
                       float *score);

/* The merges, in rank order: merge i joins ids a and b into result. Zero for
 * character level and llama2.c vocabularies (those merge by score). */
int64_t fr_tokenizer_n_merges(const struct fr_tokenizer *t);
int fr_tokenizer_merge(const struct fr_tokenizer *t, int64_t i, int32_t *a, int32_t *b,
                       int32_t *result);

#ifdef __cplusplus
}
#endif
#endif

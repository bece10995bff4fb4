/* transformer.h: one decoder-only transformer, configurable as LLaMA
 * (RMSNorm, rotary embeddings, SwiGLU, grouped-query attention, optional
 * tied embeddings) or GPT-2 (LayerNorm, learned positions, GELU MLP, biases,
 * tied embeddings).
 *
 * Weights: a trained or randomly initialised model keeps f32 weights in a
 * parameter slab (params.h) with Hugging Face LLaMA names (llama) or nanoGPT
 * names (gpt2), so checkpoints move to and from PyTorch. A loaded model may
 * instead point into a read-only mmap of its file, in f32, f16 or bf16
 * (compute is always f32). Every matrix is row-major [out x in] (PyTorch
 * Linear layout).
 *
 * Two forward paths share those weights:
 *  - fr_tf_forward: autograd graph for training (slab weights only);
 *  - fr_tf_step: inference with a KV cache (kv.h): a chunk of T tokens for
 *    one sequence (prefill, batched through GEMM) or one token for each of B
 *    sequences (decode).
 */
#ifndef FRUGAL_TRANSFORMER_H
#define FRUGAL_TRANSFORMER_H

#include "frugal/io.h"
#include "frugal/kv.h"
#include "frugal/ops.h"
#include "frugal/params.h"
#include "frugal/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

enum fr_tf_arch { FR_TF_LLAMA = 0, FR_TF_GPT2 = 1 };

struct fr_tf_config {
    int arch;
    int dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, max_seq;
    float norm_eps;   /* 1e-5 */
    float rope_theta; /* 10000 */
    int rope_half;    /* 1: pairs (i, i + hs/2) as Hugging Face; 0: pairs (2i, 2i+1) as llama2.c */
    int tied;         /* classifier = token embedding */
    int no_bias;      /* gpt2: no biases in linears and LayerNorms (nanoGPT's bias=False) */
    int gelu_exact;   /* gpt2: erf GELU (nanoGPT, PyTorch nn.GELU) instead of GPT-2's tanh form */
    float dropout;    /* training only */
};

/* A weight matrix [rows x cols] or vector (rows == 1) in some float dtype. */
struct fr_wmat {
    const void *p;
    int dt; /* enum fr_dtype: FR_F32, FR_F16 or FR_BF16 */
    int64_t rows, cols;
    struct fr_tensor *t; /* the slab tensor when the weight is trainable, else NULL */
};

struct fr_tf_layer {
    struct fr_wmat norm1, norm1_b, norm2, norm2_b;
    struct fr_wmat wq, wk, wv, wo, bq, bk, bv, bo;
    struct fr_wmat w1, w2, w3, b1, b2; /* llama: w1 gate, w3 up, w2 down; gpt2: w1 fc, w2 proj */
    struct fr_wmat wqkv, bqkv;         /* gpt2 fused (wq/wk/wv point into it) */
};

struct fr_tf_model {
    struct fr_tf_config cfg;
    struct fr_params params; /* owned f32 weights (empty when mmap'd) */
    void *map;
    size_t map_len;
    void *owned;                /* converted weights owned by the model (freed) */
    struct fr_st_file *st_file; /* mapped safetensors the weights point into */
    struct fr_wmat tok_emb, pos_emb, norm_f, norm_f_b, cls;
    struct fr_tf_layer *layers;
};

/* Fills defaults for missing fields and checks the config. */
int fr_tf_config_check(struct fr_tf_config *cfg);
/* Allocates a trainable model (slab) with GPT-2-style init (normal 0.02,
 * residual projections scaled by 1/sqrt(2 n_layers)). */
int fr_tf_init(struct fr_tf_model *m, const struct fr_tf_config *cfg, uint64_t seed);
/* Loads a model for inference: llama2.c .bin (legacy headerless, version 1
 * f32: weights read in place from a read-only mmap; version 2 int8
 * dequantised to f32), frugal safetensors (weight matrices read in place
 * from the mmap in their stored f32/f16/bf16; vectors converted to f32), or
 * Hugging Face safetensors (GPT-2 / LLaMA names, config.json beside the
 * file; converted into an f32 slab). Such a model has no trainable slab
 * unless loaded with FR_TF_TRAINABLE, which copies a frugal checkpoint into
 * an f32 slab (for fine-tuning and saving), with its keep-mask (p->mask,
 * masked weights zeroed) when the file has one (prune.h's "__mask__"). */
enum { FR_TF_TRAINABLE = 1 };
int fr_tf_load(struct fr_tf_model *m, const char *path);
int fr_tf_load_ex(struct fr_tf_model *m, const char *path, int flags);
/* Writes a frugal safetensors checkpoint (dtype FR_F32, FR_F16 or FR_BF16)
 * with the config in __metadata__ and, when the slab has a keep-mask, the
 * mask as the U8 array "__mask__" (prune.h); atomic. Needs a slab model. */
int fr_tf_save(const struct fr_tf_model *m, const char *path, int dtype);
/* fr_tf_save with up to 16 more __metadata__ entries (provenance such as
 * "prune.method"); FR_EINVAL for more, or for a key the config writes. */
int fr_tf_save_ex(const struct fr_tf_model *m, const char *path, int dtype,
                  const char *const *extra_keys, const char *const *extra_vals, int nextra);
void fr_tf_free(struct fr_tf_model *m);
/* Copies every weight of src (mapped or slab, any dtype) into dst's f32
 * slab; the configs must be equal. */
int fr_tf_copy_weights(struct fr_tf_model *dst, const struct fr_tf_model *src);
int64_t fr_tf_param_count(const struct fr_tf_model *m);

/* Training forward: tokens I32 {T, B} -> logits {V, T, B}. dropout_rng may
 * be NULL when dropout is 0 or the context is in eval mode. */
fr_t *fr_tf_forward(struct fr_ctx *ctx, struct fr_tf_model *m, fr_t *tokens,
                    struct fr_rng *dropout_rng);

/* One block from explicit weight tensors (any float dtype, used by the
 * double-precision gradient check): x {D, T, B} -> {D, T, B}. Indices: */
enum {
    FR_TFW_NORM1,
    FR_TFW_NORM1_B,
    FR_TFW_NORM2,
    FR_TFW_NORM2_B,
    FR_TFW_Q,
    FR_TFW_K,
    FR_TFW_V,
    FR_TFW_QKV,
    FR_TFW_QKV_B,
    FR_TFW_O,
    FR_TFW_O_B,
    FR_TFW_W1,
    FR_TFW_B1,
    FR_TFW_W2,
    FR_TFW_B2,
    FR_TFW_W3,
    FR_TF_BLOCK_NW
};
fr_t *fr_tf_block(struct fr_ctx *ctx, const struct fr_tf_config *cfg, fr_t *x,
                  fr_t *const w[FR_TF_BLOCK_NW], struct fr_rng *dropout_rng);

/* ---- inference ---- */
struct fr_tf_state {
    const struct fr_tf_model *m;
    struct fr_kv_cache kv;
    int batch;
    int64_t max_chunk;
    int32_t *pos; /* next position per sequence */
    float *buf;   /* scratch */
    size_t buf_floats;
    int n_scratch; /* attention scratch regions (threads at init) */
};

/* Creates inference state for `batch` sequences of at most max_seq tokens,
 * with chunks (prefill) of at most max_chunk tokens. kvc NULL = full cache. */
int fr_tf_state_init(struct fr_tf_state *s, const struct fr_tf_model *m, int batch, int64_t max_seq,
                     int64_t max_chunk, const struct fr_kv_config *kvc, int64_t prompt_len);
void fr_tf_state_free(struct fr_tf_state *s);
/* Forgets sequence b (or all if b < 0). */
void fr_tf_state_reset(struct fr_tf_state *s, int b);

/* Runs T tokens of sequence b at its next positions (one batched pass) and
 * writes the logits of every token (all != 0: T x V) or of the last (V). */
int fr_tf_prefill(struct fr_tf_state *s, int b, const int32_t *tokens, int64_t T, float *logits,
                  int all);
/* One token for each of the B sequences: tokens[B] -> logits [B x V]. */
int fr_tf_decode(struct fr_tf_state *s, const int32_t *tokens, float *logits);

/* ---- sampling ---- */
struct fr_sampler {
    float temperature; /* 0 = greedy */
    int top_k;         /* 0 = off */
    float top_p;       /* 1 = off */
    struct fr_rng rng;
    int64_t *idx; /* scratch of vocab entries */
    float *prob;
    int vocab;
};
int fr_sampler_init(struct fr_sampler *s, int vocab, float temperature, int top_k, float top_p,
                    uint64_t seed);
void fr_sampler_free(struct fr_sampler *s);
/* Picks a token from logits[vocab] (logits are modified). */
int fr_sample(struct fr_sampler *s, float *logits);

/* ---- generation ---- */

/* Called once per step with every sequence's new token tokens[b] and the
 * token before it prev[b] (b < batch; what fr_tokenizer_decode_piece
 * takes); step counts from 0. A positive return stops the generation after
 * this step (not an error); a negative one (a status code, with the
 * message set by fr_error) stops it and fr_tf_generate returns it, so a
 * token the caller cannot use (an id its tokenizer does not have) is an
 * error, not a silent gap. */
typedef int (*fr_tf_token_fn)(void *user, int64_t step, const int32_t *prev, const int32_t *tokens);

struct fr_tf_generate_config {
    const int32_t *prompt; /* n_prompt token ids, the start of every sequence */
    int64_t n_prompt;      /* 1 .. max_seq - 1 */
    int64_t steps;         /* tokens generated per sequence, >= 1 */
    int batch;             /* sequences generated together, >= 1 */
    float temperature;     /* the sampler's (fr_sampler_init): 0 = greedy */
    int top_k;             /* 0 = off */
    float top_p;           /* 1 = off */
    uint64_t seed;
    const struct fr_kv_config *kv; /* NULL: the full cache */
    int32_t eos;                   /* batch 1: stop once it is generated; < 0: never */
    fr_tf_token_fn on_token;       /* may be NULL */
    void *user;
};

struct fr_tf_generate_stats {
    int started;            /* state and sampler were set up and the prefill began */
    int64_t made;           /* steps generated (on_token calls) */
    double prefill_seconds; /* the prompt into every sequence */
    double decode_seconds;  /* every step after the prefill */
    size_t kv_bytes;        /* the KV cache's memory */
};

/* Generates up to c->steps tokens for each of c->batch sequences from m:
 * prefills the prompt, then samples a token per sequence (one sampler, one
 * RNG, sequences in order) and decodes them as one batch, calling
 * c->on_token each step. The context is min(n_prompt + steps, max_seq);
 * when it is full, each sequence's state restarts from the last half of its
 * own history (prompt included), so generation may run past max_seq. With
 * batch 1 it stops after generating c->eos. stats (may be NULL) is filled,
 * also on error (stats->started tells whether generation began). Errors:
 * FR_EINVAL for an empty prompt, a prompt that fills the context ("prompt of
 * N tokens fills the model's context of M"), a prompt id outside the
 * vocabulary, steps or batch < 1; the errors of fr_tf_state_init,
 * fr_sampler_init, fr_tf_prefill and fr_tf_decode; a negative return of
 * c->on_token; FR_ENOMEM. */
int fr_tf_generate(const struct fr_tf_model *m, const struct fr_tf_generate_config *c,
                   struct fr_tf_generate_stats *stats);

#ifdef __cplusplus
}
#endif
#endif

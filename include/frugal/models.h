/* models.h: the model zoo behind one handle.
 *
 *     struct fr_model_config mc;
 *     fr_model_config_defaults(&mc);               // 10 classes, 1x28x28 input
 *     struct fr_model *m = fr_model_new("cnn", &mc, seed);
 *     fr_t *logits = m->forward(m, ctx, x);        // x {W,H,C,N} -> {n_classes, N}
 *     ... m->params is the slab the optimizer and checkpoints work on ...
 *     fr_model_free(m);
 *
 * An architecture is a string looked up in a constructor table (models.c),
 * so new families (ViT, GPT, GNNs, ...) add a row there and a file here;
 * the handle does not change. Architectures (parameter names follow the
 * PyTorch modules described with each, so checkpoints are interchangeable):
 *   mlp        flatten - fc1 256 - relu - fc2 128 - relu - fc3 n_classes
 *   cnn        conv1 32 3x3 p1 - relu - maxpool2 - conv2 64 3x3 p1 - relu -
 *              maxpool2 - fc1 128 - relu - fc2 n_classes
 *   resnet20   He et al. CIFAR ResNet-20 (akamaster layout: conv1/bn1,
 *              layer1..3 of 3 BasicBlocks with 16/32/64 channels, linear);
 *              option-A shortcuts (stride-2 subsampling + zero channel
 *              padding, no parameters); input of any size >= 8x8
 *   vgg-small  features: [conv-bn-relu] 32, 32, maxpool, 64, 64, maxpool,
 *              128, maxpool (PyTorch nn.Sequential indices 0..17, convs
 *              without bias), classifier: linear to n_classes
 *   vit        patch_embed.proj 4x4 stride 4 -> 64, pos_embed, 2 pre-LN
 *              blocks (4 heads, MLP 128, GELU), norm, mean pool, head
 *              (timm names; body linears prunable, see vit.c); with
 *              cfg.mim also mask_token and mim_head for masked-patch
 *              pretraining (fr_vit_mim_loss)
 *   convnext,  ConvNeXt-style / SLaK-style large-kernel nets (convnext.c)
 *   slak
 *   nb201      a NAS-Bench-201 cell (cfg.nb201) in its TinyNetwork skeleton
 *              (nb201.c; NAS-Bench-201's parameter names)
 * The architecture and config are stored in checkpoint metadata
 * (fr_model_meta_*) so a checkpoint alone rebuilds its model.
 */
#ifndef FRUGAL_MODELS_H
#define FRUGAL_MODELS_H

#include "frugal/ops.h"
#include "frugal/params.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FR_MODEL_MAX_WIDTHS 16

/* A NAS-Bench-201 network (arch "nb201"): the op of each of the cell's 6
 * edges (FR_NB201_*, in the standard string's order), the first stage's
 * channels c and the cells per stage n (0: FR_NB201_DEFAULT_C / _N). */
struct fr_nb201_cell {
    int ops[6];
    int c, n;
};

struct fr_model_config {
    int n_classes;
    int in_channels, in_h, in_w;
    int mim; /* vit only: add the masked-image-modelling groups (fr_vit_mim_loss) */
    /* resnet20 and vgg-small only: every width times width_mult (0 or 1:
     * the published widths; resnet20 with 2 has 32/64/128 channels) */
    int width_mult;
    /* resnet20 and vgg-small only: nwidths > 0 gives the output widths of
     * the prunable channel layers (fr_model_channels order, after
     * width_mult) instead of their defaults: a model narrowed by
     * fr_model_shrink. 0: the defaults. */
    int nwidths;
    int widths[FR_MODEL_MAX_WIDTHS];
    /* convnext and slak: the depthwise kernel of each of the 3 stages (odd;
     * 0: the default, fr_convnext_kernels). slak: small_kernel is the
     * small branch's side (0: 5), merged 1 the re-parameterised form (one
     * KxK depthwise conv with a bias per block, fr_model_reparam). */
    int kernels[3];
    int small_kernel;
    int merged;
    /* convnext: > 0 adds "fd_proj" (Linear(128, fd_channels) on the last
     * feature map's channels, declared after the head; the forward never
     * reads it): feature distillation's learned projection onto a
     * teacher's fd_channels channels, trained with the student (kd.h). */
    int fd_channels;
    /* The data the model was trained on, in data.h's one-word form
     * ("fashion-canvas:48:6:SEED"; "": Fashion-MNIST), written to and read
     * from checkpoints so eval and erf load the same kind of images and
     * every checkpoint made from the model (reparam, shrink) keeps it. */
    char data[48];
    /* nb201 only: the cell and skeleton (struct fr_nb201_cell) */
    struct fr_nb201_cell nb201;
};

struct fr_model {
    char arch[32];
    struct fr_model_config cfg;
    struct fr_params params;
    /* x {in_w, in_h, in_channels, N} f32 -> logits {n_classes, N}. Training
     * vs eval behaviour (batch norm) follows fr_is_training(ctx). NULL with
     * the error set on bad input. */
    struct fr_tensor *(*forward)(struct fr_model *m, struct fr_ctx *ctx, struct fr_tensor *x);
    /* The last feature map before pooling, {W', H', C', N} (feature
     * distillation, effective receptive fields); NULL for architectures
     * without one (mlp). */
    struct fr_tensor *(*features)(struct fr_model *m, struct fr_ctx *ctx, struct fr_tensor *x);
    /* The logits from that feature map (forward = head(features(x))), so a
     * loss that needs both computes the body once; NULL: not split. */
    struct fr_tensor *(*head)(struct fr_model *m, struct fr_ctx *ctx, struct fr_tensor *features);
    void *impl; /* architecture-private layer table (freed by fr_model_free) */
};

/* 10 classes, 1 x 28 x 28 (Fashion-MNIST), mim 0, width_mult 1, nwidths 0. */
void fr_model_config_defaults(struct fr_model_config *c);

/* Builds and initialises (PyTorch default init, drawn from seed) the named
 * architecture. NULL with FR_ENOTFOUND ("unknown model 'x' (known: ...)") or
 * FR_EINVAL (config the architecture cannot take, mim != 0 for anything but
 * vit) in fr_last_error(). */
struct fr_model *fr_model_new(const char *arch, const struct fr_model_config *cfg, uint64_t seed);
void fr_model_free(struct fr_model *m);

/* The classifier layer's name prefix ("fc2" for cnn, "head" for vit, ...):
 * its tensors are left out of the default pruning scope and re-initialised
 * by fr_model_transfer. "" for an unknown arch. */
const char *fr_model_head(const struct fr_model *m);

/* Transfer learning: copies into dst every tensor that src has under the
 * same name and shape, except dst's classifier (fr_model_head), which keeps
 * its fresh initialisation. Tensors only one side has (e.g. a
 * self-supervised decoder) are skipped. When src has a mask, the copied
 * tensors' mask entries come with them (dst gets a mask). Returns the
 * number of tensors copied, or FR_EINVAL when nothing matches (different
 * architectures). */
int fr_model_transfer(struct fr_model *dst, const struct fr_model *src);

/* ---- channels: the layers whose output channels can be removed ----
 *
 * A prunable channel layer is a conv whose output goes, through its batch
 * norm and a ReLU, into exactly one other conv and nowhere else (Chase's
 * rule): the inner conv of each resnet20 basic block (conv1; conv2 feeds a
 * residual add), every vgg-small conv but the last. Removing channel c of
 * such a layer means zeroing w's c-th filter (w {k, k, cin, C}: the cin*k*k
 * contiguous floats from c*cin*k*k), the batch norm's entries c and the
 * consumer's input slice c (next {k', k', C, cout'}: for each output o the
 * k'*k' floats from (o*C + c)*k'*k'). */
struct fr_channel_layer {
    char name[64];          /* the conv's prefix, e.g. "layer1.0.conv1" */
    struct fr_param *w;     /* the conv weight */
    struct fr_param *bn[4]; /* its batch norm: weight, bias, running_mean, running_var */
    struct fr_param *next;  /* the consumer conv's weight */
    int64_t C;              /* output channels now */
    int64_t filter;         /* floats per output filter: cin*k*k */
    int64_t next_k2;        /* k'*k' of the consumer */
    int64_t next_out;       /* the consumer's output channels */
};
/* 1 when the architecture named arch has prunable channel layers (and so
 * takes width_mult and widths), 0 otherwise (unknown names included). */
int fr_model_has_channels(const char *arch);
/* Fills out[0..cap) with m's prunable channel layers in a fixed order and
 * returns their count: 0 for an architecture without any (mlp, cnn, vit),
 * FR_EINVAL when cap is too small. */
int fr_model_channels(const struct fr_model *m, struct fr_channel_layer *out, int cap);

/* The physically narrower model: for each prunable channel layer i,
 * alive[i][c] != 0 keeps channel c (at least one per layer). Returns a new
 * model of the same architecture whose config has nwidths set, with every
 * tensor copied and the removed channels' filter, batch-norm entries and
 * consumer input slices left out; m's keep-mask, when it has one, is
 * sliced the same way. When the removed channels were zeroed (filter, batch
 * norm weight and bias), the new model computes the same logits as m.
 * NULL with FR_EINVAL (no prunable channels, a layer with none alive) or
 * FR_ENOMEM. */
struct fr_model *fr_model_shrink(const struct fr_model *m, const uint8_t *const *alive);

/* Forward FLOPs per image (2 x multiply-adds of the convs and linears):
 * *dense as if every weight were kept, *sparse counting only kept weights
 * (mask entries != 0; without a mask, nonzero weights). A shrunk model's
 * dense count is what a dense kernel really does. resnet20 and vgg-small
 * only: FR_EINVAL for other architectures. */
int fr_model_flops(const struct fr_model *m, int64_t *dense, int64_t *sparse);

/* convnext and slak: the default depthwise kernel of each of the 3 stages
 * for an in_h x in_w input (convnext.c says the rule: SLaK's scaled to the
 * maps for slak, 7 for convnext, never over 2 side - 1). 0 or FR_EINVAL. */
int fr_convnext_kernels(const char *arch, int in_h, int in_w, int *K);
/* "13,11,5" -> K[3] (0 keeps a stage's default). 0 or -1. */
int fr_parse_kernels(const char *v, int *K);
/* SLaK's structural re-parameterisation: a new "slak" model with merged 1
 * whose blocks each have one KxK depthwise conv with a bias, the sum of
 * m's branches with their batch norms folded in (eval statistics), every
 * other tensor copied. Its eval-mode logits equal m's up to float
 * rounding. NULL with FR_EINVAL when m is not an unmerged slak model. */
struct fr_model *fr_model_reparam(const struct fr_model *m);

/* ---- NAS-Bench-201 cells (nb201.c says the skeleton) ----
 * Ops of an edge; the 6 edges in the arch string's order are 0->1,
 * 0->2, 1->2, 0->3, 1->3, 2->3. */
enum {
    FR_NB201_NONE = 0,
    FR_NB201_SKIP = 1,
    FR_NB201_CONV1 = 2,
    FR_NB201_CONV3 = 3,
    FR_NB201_POOL3 = 4,
    FR_NB201_NOPS = 5,
    FR_NB201_EDGES = 6,
    FR_NB201_CELLS = 15625, /* 5^6 */
    FR_NB201_KEY_MAX = 1024,
    FR_NB201_DEFAULT_C = 16,
    FR_NB201_DEFAULT_N = 1,
};
/* "none", "skip_connect", ... ("?" out of range). */
const char *fr_nb201_op_name(int op);
/* "|nor_conv_3x3~0|+|none~0|avg_pool_3x3~1|+|...~0|...~1|...~2|" -> ops;
 * 0 or FR_EINVAL with a message naming the offset or the unknown op. */
int fr_nb201_parse(const char *s, int ops[FR_NB201_EDGES]);
/* ops -> the standard string (at most 100 bytes); 0 or FR_EINVAL. */
int fr_nb201_format(const int ops[FR_NB201_EDGES], char *buf, size_t cap);
/* The cell's number 0..15624 (edge 0 the most significant base-5 digit)
 * and back. */
int64_t fr_nb201_index(const int ops[FR_NB201_EDGES]);
void fr_nb201_ops(int64_t index, int ops[FR_NB201_EDGES]);
/* 1 when some path of non-none edges joins the cell's input to its output
 * (else the network's output does not depend on its input). */
int fr_nb201_alive(const int ops[FR_NB201_EDGES]);
/* The isomorphism class's key (NAS-Bench-201's unique string, zeros
 * considered): two cells compute the same function family exactly when
 * their keys are equal. cap >= FR_NB201_KEY_MAX is always enough. */
int fr_nb201_unique_key(const int ops[FR_NB201_EDGES], char *buf, size_t cap);
/* The classes' representatives (each class's smallest cell index),
 * ascending, into reps[0..cap) (reps may be NULL to count); returns their
 * number (6466) or an error. */
int fr_nb201_unique(int64_t *reps, int64_t cap);

/* Comma-separated list of known architectures (static string). */
const char *fr_model_list(void);

/* Metadata round trip. fr_model_meta_write fills up to max (key, value)
 * pairs describing arch and config into keys/vals (each buffer 64 bytes) and
 * returns the count; fr_model_meta_read parses such pairs back (unknown keys
 * ignored) and returns 0 or FR_EFORMAT when arch or a number is missing or
 * malformed. "mim" is written only when set (absent reads as 0), so
 * checkpoints of other models are as before. */
#define FR_MODEL_META_MAX 14
int fr_model_meta_write(const struct fr_model *m, char keys[][64], char vals[][64], int max);
int fr_model_meta_read(int n, const char *const *keys, const char *const *vals, char *arch,
                       size_t arch_size, struct fr_model_config *cfg);

/* The architecture and config an image-classifier checkpoint's metadata
 * records (fr_model_meta_write): 0, or an error naming the file. */
int fr_model_arch_load(const char *path, char *arch, size_t cap, struct fr_model_config *cfg);
/* The model a checkpoint's metadata names, built and loaded from it with its
 * keep-mask when it has one (*has_mask, may be NULL, says which); other run
 * state in the file (optimizer moments, counters) is ignored. NULL with an
 * error naming the file. Free with fr_model_free. */
struct fr_model *fr_model_load(const char *path, int *has_mask);

/* The counterpart of fr_model_load: m's weights, its keep-mask when it has
 * one, and its architecture and config as metadata, written atomically to
 * path (whose directory must exist). 0 or the writer's error. */
int fr_model_save(const struct fr_model *m, const char *path);

/* SimMIM-style masked-patch reconstruction loss of a vit built with mim=1.
 * x {W, H, C, N} f32 (normalised images). Per image, exactly
 * round(mask_ratio * T) of the T patch tokens, drawn from rng, are replaced
 * by mask_token; the encoder (pos_embed, blocks, norm: the classifier's)
 * runs on all tokens and mim_head predicts each masked token's 4x4xC
 * pixels. Returns the scalar mean squared error over the masked patches'
 * pixels (the targets are x's values; unmasked patches do not count),
 * recorded on the tape so fr_backward reaches every parameter the loss
 * depends on (classifier head excluded). NULL with FR_EINVAL when m is not
 * such a vit, mask_ratio is outside (0, 1) or masks no patch, or x has the
 * wrong shape; FR_ENOMEM. */
struct fr_tensor *fr_vit_mim_loss(struct fr_model *m, struct fr_ctx *ctx, struct fr_tensor *x,
                                  double mask_ratio, struct fr_rng *rng);

#ifdef __cplusplus
}
#endif
#endif

/* kd.h: knowledge-distillation losses (the large-kernel distillation
 * paper's three: logit KD, NKD and feature distillation). Each returns a
 * scalar loss on the tape whose gradient reaches the student's tensors
 * only: the teacher's logits and features are read as constants (copied
 * off the tape), so a teacher computed with gradients on is never
 * back-propagated into. Logits are {C, N} (C classes, N samples), labels
 * I32 {N} in [0, C). NULL with the error set on bad input: shapes that
 * differ (a teacher with other classes than the student), labels out of
 * range, T <= 0, a weight outside its range.
 */
#ifndef FRUGAL_METHODS_KD_H
#define FRUGAL_METHODS_KD_H

#include "frugal/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Hinton's logit distillation as DeiT and the authors' scripts compute it:
 *   alpha T^2 KL(softmax(t / T) || softmax(s / T)) + (1 - alpha) CE(s, y),
 * the KL summed over classes and averaged over samples ("batchmean").
 * alpha in [0, 1]; the scripts use T = 3. */
struct fr_tensor *fr_kd_loss(struct fr_ctx *ctx, struct fr_tensor *s, struct fr_tensor *t,
                             struct fr_tensor *y, double alpha, double T);

/* NKD (normalized KD), as the note and the NKD authors' code define it:
 *   - mean_n p_t[y] log p_s[y]
 *   - gamma T^2 mean_n sum_{c != y} q_t[c] log q_s[c],
 * p = softmax(z), q = softmax over the non-target logits z[c != y] / T
 * (the target removed, the rest renormalised). gamma >= 0. The target term
 * stands in for cross-entropy weighted by the teacher's confidence; add CE
 * yourself if the recipe wants it. */
struct fr_tensor *fr_nkd_loss(struct fr_ctx *ctx, struct fr_tensor *s, struct fr_tensor *t,
                              struct fr_tensor *y, double gamma, double T);

/* Feature distillation between the student's projected last feature map
 * fs {W, H, C, N} (the caller's learned 1x1 projection onto the teacher's
 * C channels) and the teacher's ft {W', H', C, N}: SmoothL1 with beta
 * (beta > 0) or, with beta == 0, the mean squared error, averaged over
 * every element. When the maps' sides differ, the larger map is average
 * pooled by the integer factor between them (FR_EINVAL when a side is not
 * a multiple of the other's). */
struct fr_tensor *fr_fd_loss(struct fr_ctx *ctx, struct fr_tensor *fs, struct fr_tensor *ft,
                             double beta);

/* ---- training a student (an extension of train.h's fr_train_run) ----
 *
 *     struct fr_kd_config kc;
 *     fr_kd_config_defaults(&kc);
 *     kc.teacher = "teacher.safetensors";
 *     struct fr_kd_run r;
 *     fr_kd_run_init(&r, &kc);          // r.rc: the config's check
 *     cfg.ext = &r.ext;
 *     fr_train_run(&cfg, &res);
 *     fr_kd_run_free(&r);
 *
 * At the start the teacher is loaded, checked against the student (classes
 * and input size) and, a three-branch slak, re-parameterised; every batch
 * it runs in eval mode without gradients, and the loss is fr_kd_loss
 * (alpha, T), CE + fr_nkd_loss (gamma, T), or CE + fr_fd_loss (beta)
 * between the student's last feature map through its fd_proj and the
 * teacher's. The config is recorded as
 * "train.kd.*" metadata, so a resume must name the same teacher and loss. */
struct fr_kd_config {
    const char *teacher; /* checkpoint path */
    const char *loss;    /* "kd" (default), "nkd" or "fd" */
    double alpha;        /* kd: weight of the distillation term (0.5) */
    double T;            /* temperature (3, the authors' scripts) */
    double gamma;        /* nkd: weight of the non-target term (1) */
    double beta;         /* fd: SmoothL1's beta (2; 0: MSE) */
};
void fr_kd_config_defaults(struct fr_kd_config *c);
/* fd: the student must carry the learned projection onto the teacher's
 * feature channels (models.h fd_channels, convnext students); this is that
 * count: the channels of the teacher checkpoint's last feature map (one
 * zero image through it). > 0, or < 0 with the error set. */
int fr_kd_feature_channels(const char *teacher);

struct fr_train_ext;
#include "frugal/train.h"

struct fr_kd_run {
    struct fr_kd_config c;
    struct fr_model *t; /* the teacher during the run */
    struct fr_train_ext ext;
    int rc; /* fr_kd_run_init's check of the config: 0 or FR_EINVAL (error set) */
    char vals[6][64];
    const char *kp[6], *vp[6];
};
void fr_kd_run_init(struct fr_kd_run *r, const struct fr_kd_config *c);
void fr_kd_run_free(struct fr_kd_run *r);

/* ---- effective receptive field (RepLKNet's measurement) ----
 * For each image, the score is the sum over channels of ReLU of the centre
 * of the model's last feature map (fr_model.features), in eval mode; the
 * map is ReLU(d score / d input) summed over input channels, averaged over
 * images. The analysis follows RepLKNet's: M = log10(map + 1) / its max,
 * then the side of the smallest centred odd square whose M sum exceeds
 * 20, 30, 50 and 99% of the whole. */
struct fr_model;
struct fr_erf {
    int64_t w, h;   /* the input's sides */
    int64_t images; /* averaged over */
    double *raw;    /* h * w mean contributions (row y at y * w) */
    double *map;    /* h * w: log10(raw + 1) normalised to a maximum of 1 */
    int side[4];    /* 20 / 30 / 50 / 99%: the square's side (w or h when none inside) */
    double area[4]; /* side^2 / (w h) */
};
extern const double FR_ERF_THRESH[4]; /* 0.2, 0.3, 0.5, 0.99 */
/* Measures m's ERF over n images x (n * C * H * W floats, the model's
 * input layout {W, H, C} per image) in batches of `batch`. 0, or FR_EINVAL
 * (a model without a feature map, n < 1, an input of the wrong size),
 * FR_ENOMEM. Free with fr_erf_free. */
int fr_erf_measure(struct fr_model *m, const float *x, int64_t n, int batch, struct fr_erf *out);
void fr_erf_free(struct fr_erf *e);
/* The analysis alone, for a given raw map (fills map, side, area). */
int fr_erf_analyse(struct fr_erf *e);

#ifdef __cplusplus
}
#endif
#endif

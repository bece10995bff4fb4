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

#ifdef __cplusplus
}
#endif
#endif

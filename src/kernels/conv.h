/* conv.h: f32 convolution kernels behind fr_conv2d (private to the library).
 *
 * Two families:
 *  - im2col / col2im for the general convolution, which op_conv.c feeds to
 *    fr_gemm (one image and one group at a time);
 *  - direct depthwise kernels (one input channel per output channel, stride
 *    1, dilation 1, padding < kernel size), vectorised over W with GCC
 *    vector types and built with target_clones, so no im2col buffer is
 *    needed even for 31x31 kernels.
 * The scalar reference convolution lives in op_conv.c, not here.
 */
#ifndef FRUGAL_KERNELS_CONV_H
#define FRUGAL_KERNELS_CONV_H

#include <stddef.h>
#include <stdint.h>

/* Geometry of one convolution: input C x H x W (per image), kernel KH x KW,
 * output OH x OW; stride, zero padding and dilation per axis. */
struct fr_conv_geom {
    int64_t C, H, W, KH, KW, OH, OW;
    int64_t sh, sw, ph, pw, dh, dw;
};

/* col[(c*KH + kh)*KW + kw][oh*OW + ow] = x[c][oh*sh-ph+kh*dh][ow*sw-pw+kw*dw]
 * (0 outside the image) for the C planes at x; col has C*KH*KW rows of
 * OH*OW floats. */
void fr_im2col(const struct fr_conv_geom *g, const float *x, float *col);
/* The adjoint of fr_im2col: dx += scatter of col (dx has C planes H x W).
 * col is scratch: entries that im2col would have zeroed (padding cells) may
 * be overwritten with 0. */
void fr_col2im(const struct fr_conv_geom *g, float *col, float *dx);

/* Depthwise plane kernels; g->C is ignored (one plane). Each needs a scratch
 * buffer of fr_dw_scratch_floats(g) floats (64-byte aligned), reused across
 * calls; none allocates. Contract: sh == sw == dh == dw == 1,
 * 0 <= ph < KH, 0 <= pw < KW. */
size_t fr_dw_scratch_floats(const struct fr_conv_geom *g);
/* y (OH x OW) = bias + correlation of x (H x W, zero padded) with w (KH x KW). */
void fr_dw_forward(const struct fr_conv_geom *g, const float *x, const float *w, float bias,
                   float *y, float *scratch);
/* dx (H x W) += gradient of the forward with respect to x, given dy. */
void fr_dw_backward_input(const struct fr_conv_geom *g, const float *dy, const float *w, float *dx,
                          float *scratch);
/* dw (KH x KW) += gradient with respect to w, given x and dy. */
void fr_dw_backward_weight(const struct fr_conv_geom *g, const float *x, const float *dy, float *dw,
                           float *scratch);

#endif

/* erf.c: the effective receptive field of kd.h (RepLKNet's method: the
 * gradient of the last feature map's centre with respect to the input). */
#include "frugal/methods/kd.h"

#include "frugal/models.h"
#include "frugal/ops.h"
#include "frugal/status.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

const double FR_ERF_THRESH[4] = {0.2, 0.3, 0.5, 0.99};

void fr_erf_free(struct fr_erf *e) {
    if (!e) return;
    free(e->raw);
    free(e->map);
    e->raw = e->map = NULL;
}

int fr_erf_analyse(struct fr_erf *e) {
    int64_t w = e->w, h = e->h;
    if (!e->raw || w < 1 || h < 1) return fr_error(FR_EINVAL, "erf: no map to analyse");
    free(e->map);
    e->map = malloc((size_t)(w * h) * sizeof *e->map);
    if (!e->map) return fr_error(FR_ENOMEM, "erf: out of memory");
    double mx = 0, all = 0;
    for (int64_t i = 0; i < w * h; i++) {
        e->map[i] = log10(e->raw[i] + 1);
        mx = fmax(mx, e->map[i]);
    }
    for (int64_t i = 0; i < w * h; i++) {
        if (mx > 0) e->map[i] /= mx;
        all += e->map[i];
    }
    int64_t big = w > h ? w : h;
    for (int t = 0; t < 4; t++) {
        e->side[t] = (int)big;
        for (int64_t r = 1; r < big / 2 && all > 0; r++) { /* RepLKNet: 1 .. h/2 - 1 */
            double s = 0;
            for (int64_t y = h / 2 - r; y <= h / 2 + r; y++)
                for (int64_t x = w / 2 - r; x <= w / 2 + r; x++)
                    if (y >= 0 && y < h && x >= 0 && x < w) s += e->map[y * w + x];
            if (s / all > FR_ERF_THRESH[t]) {
                e->side[t] = (int)(2 * r + 1);
                break;
            }
        }
        e->area[t] = (double)e->side[t] * e->side[t] / (double)(w * h);
        if (e->area[t] > 1) e->area[t] = 1;
    }
    return 0;
}

int fr_erf_measure(struct fr_model *m, const float *x, int64_t n, int batch, struct fr_erf *out) {
    memset(out, 0, sizeof *out);
    if (!m || !m->features)
        return fr_error(FR_EINVAL, "erf: model '%s' has no feature map to measure",
                        m ? m->arch : "(null)");
    if (n < 1 || batch < 1) return fr_error(FR_EINVAL, "erf: %lld images", (long long)n);
    int64_t W = m->cfg.in_w, H = m->cfg.in_h, C = m->cfg.in_channels, img = W * H * C;
    out->w = W, out->h = H;
    out->raw = calloc((size_t)(W * H), sizeof *out->raw);
    struct fr_ctx *ctx = fr_ctx_new(64 << 20);
    if (!out->raw || !ctx) {
        fr_ctx_free(ctx);
        fr_erf_free(out);
        return fr_error(FR_ENOMEM, "erf: out of memory");
    }
    fr_set_training(ctx, 0); /* running statistics: each image on its own */
    /* only the input's gradient is wanted: the weights' flags off meanwhile */
    struct fr_params *mp = &m->params;
    unsigned char *was = malloc((size_t)mp->count + 1);
    if (!was) {
        fr_ctx_free(ctx);
        fr_erf_free(out);
        return fr_error(FR_ENOMEM, "erf: out of memory");
    }
    for (int i = 0; i < mp->count; i++) {
        was[i] = (unsigned char)mp->items[i].t->requires_grad;
        mp->items[i].t->requires_grad = 0;
    }
    int rc = 0;
    for (int64_t b0 = 0; b0 < n && !rc; b0 += batch) {
        int64_t nb = n - b0 < batch ? n - b0 : batch;
        struct fr_tensor *xi = fr_new(ctx, FR_F32, 4, (int64_t[]){W, H, C, nb});
        if (!xi) {
            rc = fr_error(FR_ENOMEM, "erf: out of memory");
            break;
        }
        memcpy(xi->data, x + b0 * img, (size_t)(nb * img) * sizeof(float));
        xi->requires_grad = 1;
        struct fr_tensor *f = m->features(m, ctx, xi);
        if (!f || f->ndim != 4) {
            rc = f ? fr_error(FR_EINVAL, "erf: the feature map is not 4-d") : FR_EINVAL;
            break;
        }
        struct fr_tensor *c =
            fr_slice(ctx, fr_slice(ctx, f, 0, f->ne[0] / 2, 1), 1, f->ne[1] / 2, 1);
        struct fr_tensor *score = fr_sum(ctx, fr_relu(ctx, c), -1);
        if (!score || fr_backward(ctx, score)) {
            rc = FR_EINVAL;
            break;
        }
        /* a centre that no image activates leaves no gradient at all */
        if (xi->grad) {
            const float *g = xi->grad->data;
            for (int64_t s = 0; s < nb; s++)
                for (int64_t ch = 0; ch < C; ch++)
                    for (int64_t p = 0; p < W * H; p++) {
                        float v = g[(s * C + ch) * W * H + p];
                        if (v > 0) out->raw[p] += v;
                    }
        }
        fr_ctx_reset(ctx);
    }
    fr_ctx_free(ctx);
    for (int i = 0; i < mp->count; i++)
        mp->items[i].t->requires_grad = was[i];
    free(was);
    if (rc) {
        fr_erf_free(out);
        return rc;
    }
    for (int64_t p = 0; p < W * H; p++)
        out->raw[p] /= (double)n;
    out->images = n;
    return fr_erf_analyse(out);
}

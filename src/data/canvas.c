/* canvas.c: Fashion-MNIST items on a larger cluttered canvas (data.h
 * fr_dataset_canvas), the task where a receptive field matters: the item
 * can be anywhere, and fragments of other items lie around it.
 *
 * Sample i of a split: a side x side canvas of background, `clutter`
 * 8 x 8 fragments cut from random images of the same split at random
 * places, then image i of the split at a random place; pixels combine by
 * maximum (normalisation is increasing, so the maximum of normalised
 * values is the normalised maximum of raw ones), the label is image i's.
 * Every draw comes from an RNG seeded with (seed, split, i): a sample
 * does not depend on how many others were made or in what order, the
 * training canvases use training images only and the test canvases test
 * images only, as in the original split. */
#include "frugal/data.h"

#include "frugal/rng.h"
#include "frugal/status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FRAG 8

static float fmaxf_(float a, float b) {
    return a > b ? a : b;
}

/* Pastes a w x h window of image src (W wide) at (sx, sy) onto the canvas
 * at (dx, dy), by maximum, per channel. */
static void paste(float *canvas, int side, const float *src, int C, int H, int W, int sx, int sy,
                  int w, int h, int dx, int dy) {
    for (int c = 0; c < C; c++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                float *o = canvas + ((int64_t)c * side + dy + y) * side + dx + x;
                *o = fmaxf_(*o, src[((int64_t)c * H + sy + y) * W + sx + x]);
            }
}

int fr_dataset_canvas(struct fr_dataset *out, const struct fr_dataset *src, int side, int clutter,
                      uint64_t seed, int train, int64_t limit) {
    memset(out, 0, sizeof *out);
    if (!src || src->n < 1 || !src->x)
        return fr_error(FR_EINVAL, "canvas: the source split has no images");
    if (side < src->H || side < src->W || side > 1024)
        return fr_error(FR_EINVAL, "canvas: side %d must be in %d..1024 (the items are %d x %d)",
                        side, src->H > src->W ? src->H : src->W, src->W, src->H);
    if (clutter < 0 || clutter > 256)
        return fr_error(FR_EINVAL, "canvas: %d clutter fragments (0..256)", clutter);
    if (src->H < FRAG || src->W < FRAG)
        return fr_error(FR_EINVAL, "canvas: items smaller than a %d x %d fragment", FRAG, FRAG);
    int64_t n = limit > 0 && limit < src->n ? limit : src->n;
    int C = src->C, H = src->H, W = src->W;
    int64_t img = (int64_t)C * side * side;
    out->x = malloc((size_t)(n * img) * sizeof(float));
    out->y = malloc((size_t)n * sizeof(int32_t));
    if (!out->x || !out->y) {
        fr_dataset_free(out);
        return fr_error(FR_ENOMEM, "canvas: out of memory for %lld canvases of %d x %d",
                        (long long)n, side, side);
    }
    out->n = n, out->C = C, out->H = side, out->W = side, out->nclass = src->nclass;
    out->mean = src->mean, out->std = src->std, out->fill = src->fill;
    const int64_t per = (int64_t)C * H * W;
    for (int64_t i = 0; i < n; i++) {
        struct fr_rng r;
        fr_rng_seed(&r, seed ^ (0x9E3779B97F4A7C15ull * (uint64_t)(2 * i + (train != 0) + 1)));
        float *cv = out->x + i * img;
        for (int64_t k = 0; k < img; k++)
            cv[k] = src->fill;
        for (int f = 0; f < clutter; f++) {
            int64_t j = (int64_t)fr_rng_below(&r, (uint64_t)src->n);
            int sx = (int)fr_rng_below(&r, (uint64_t)(W - FRAG + 1));
            int sy = (int)fr_rng_below(&r, (uint64_t)(H - FRAG + 1));
            int dx = (int)fr_rng_below(&r, (uint64_t)(side - FRAG + 1));
            int dy = (int)fr_rng_below(&r, (uint64_t)(side - FRAG + 1));
            paste(cv, side, src->x + j * per, C, H, W, sx, sy, FRAG, FRAG, dx, dy);
        }
        int dx = (int)fr_rng_below(&r, (uint64_t)(side - W + 1));
        int dy = (int)fr_rng_below(&r, (uint64_t)(side - H + 1));
        paste(cv, side, src->x + i * per, C, H, W, 0, 0, W, H, dx, dy);
        out->y[i] = src->y[i];
    }
    return 0;
}

int fr_dataset_load(struct fr_dataset *ds, const struct fr_data_spec *spec, const char *dir,
                    int train, int64_t limit) {
    memset(ds, 0, sizeof *ds);
    const char *name = spec && spec->name ? spec->name : "fashion-mnist";
    if (!strcmp(name, "fashion-mnist")) return fr_dataset_fashion_mnist(ds, dir, train, limit);
    if (strcmp(name, "fashion-canvas") != 0)
        return fr_error(FR_ENOTFOUND, "unknown dataset '%s' (known: fashion-mnist, fashion-canvas)",
                        name);
    struct fr_dataset items = {0};
    int rc = fr_dataset_fashion_mnist(&items, dir, train, 0); /* clutter from the whole split */
    if (rc) return rc;
    rc = fr_dataset_canvas(ds, &items, spec->canvas ? spec->canvas : FR_CANVAS_SIDE,
                           spec->clutter >= 0 ? spec->clutter : FR_CANVAS_CLUTTER,
                           spec->seed ? spec->seed : FR_CANVAS_SEED, train, limit);
    fr_dataset_free(&items);
    return rc;
}

int fr_data_spec_format(const struct fr_data_spec *s, char *buf, size_t cap) {
    const char *name = s && s->name ? s->name : "fashion-mnist";
    if (strcmp(name, "fashion-canvas") != 0) return snprintf(buf, cap, "%s", name) >= (int)cap;
    return snprintf(buf, cap, "fashion-canvas:%d:%d:%llu", s->canvas ? s->canvas : FR_CANVAS_SIDE,
                    s->clutter >= 0 ? s->clutter : FR_CANVAS_CLUTTER,
                    (unsigned long long)(s->seed ? s->seed : FR_CANVAS_SEED)) >= (int)cap;
}

int fr_data_spec_parse(const char *v, struct fr_data_spec *s) {
    memset(s, 0, sizeof *s);
    s->clutter = -1;
    if (!strcmp(v, "fashion-mnist")) {
        s->name = "fashion-mnist";
        return 0;
    }
    int side = 0, clutter = 0, used = 0;
    unsigned long long seed = 0;
    if (sscanf(v, "fashion-canvas:%d:%d:%llu%n", &side, &clutter, &seed, &used) != 3 || v[used] ||
        side < 8 || side > 1024 || clutter < 0 || clutter > 256)
        return fr_error(FR_EFORMAT,
                        "dataset '%s' is not fashion-mnist or fashion-canvas:SIDE:N:SEED", v);
    s->name = "fashion-canvas", s->canvas = side, s->clutter = clutter, s->seed = seed;
    return 0;
}

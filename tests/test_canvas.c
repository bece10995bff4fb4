/* test_canvas.c: the cluttered-canvas dataset (data.h fr_dataset_canvas,
 * fr_dataset_load, the spec's metadata form): the item is on the canvas
 * whole (some window holds it, by the maximum rule), labels follow the
 * items, a sample depends only on (seed, split, index), the splits draw
 * differently, clutter appears only when asked, and bad sides fail. A
 * synthetic source (no data files needed). */
#include "check.h"
#include "frugal/data.h"

#include <stdlib.h>
#include <string.h>

#define SRC_N 40
#define HW 28

static void make_source(struct fr_dataset *s) {
    memset(s, 0, sizeof *s);
    s->n = SRC_N, s->C = 1, s->H = HW, s->W = HW, s->nclass = 10, s->fill = -1;
    s->x = malloc(sizeof(float) * SRC_N * HW * HW);
    s->y = malloc(sizeof(int32_t) * SRC_N);
    struct fr_rng r;
    fr_rng_seed(&r, 1);
    for (int i = 0; i < SRC_N; i++) {
        s->y[i] = i % 10;
        for (int p = 0; p < HW * HW; p++) /* items: background -1 with a bright block */
            s->x[i * HW * HW + p] = (p / HW > 5 && p / HW < 22 && p % HW > 5 && p % HW < 22)
                                        ? (float)(1 + fr_rng_uniform(&r))
                                        : -1.0f;
    }
}

/* some window of the canvas is >= the item everywhere, and equals it where
 * the item is bright (clutter is max-blended under nothing brighter than 2) */
static int holds_item(const float *cv, int side, const float *item) {
    for (int dy = 0; dy + HW <= side; dy++)
        for (int dx = 0; dx + HW <= side; dx++) {
            int ok = 1;
            for (int p = 0; p < HW * HW && ok; p++) {
                float c = cv[(dy + p / HW) * side + dx + p % HW];
                ok = c >= item[p] && (item[p] < 0 || c == item[p] || c > 0);
            }
            if (ok) return 1;
        }
    return 0;
}

int main(void) {
    struct fr_dataset src, a, b, c, t;
    make_source(&src);
    CHECK(fr_dataset_canvas(&a, &src, 64, 6, 7, 1, 0) == 0, "canvas: %s", fr_last_error());
    CHECK(a.n == SRC_N && a.H == 64 && a.W == 64 && a.C == 1 && a.nclass == 10 && a.fill == -1,
          "canvas shape %lld x %d x %d", (long long)a.n, a.H, a.W);
    int held = 0, labels = 1, cluttered = 0;
    for (int i = 0; i < SRC_N; i++) {
        held += holds_item(a.x + i * 64 * 64, 64, src.x + i * HW * HW);
        labels &= a.y[i] == src.y[i];
        int bright = 0;
        for (int p = 0; p < 64 * 64; p++)
            bright += a.x[i * 64 * 64 + p] > 0;
        cluttered += bright > 16 * 16; /* more than the item's own block */
    }
    CHECK(held == SRC_N, "the item is whole on %d of %d canvases", held, SRC_N);
    CHECK(labels, "labels do not follow the items");
    CHECK(cluttered > SRC_N / 2, "clutter on only %d of %d canvases", cluttered, SRC_N);
    /* a sample depends on (seed, split, index) only */
    CHECK(fr_dataset_canvas(&b, &src, 64, 6, 7, 1, 5) == 0 && b.n == 5 &&
              !memcmp(b.x, a.x, sizeof(float) * 5 * 64 * 64),
          "the first 5 canvases change with the limit");
    CHECK(fr_dataset_canvas(&c, &src, 64, 6, 8, 1, 5) == 0 &&
              memcmp(c.x, a.x, sizeof(float) * 5 * 64 * 64) != 0,
          "another seed gives the same canvases");
    CHECK(fr_dataset_canvas(&t, &src, 64, 6, 7, 0, 5) == 0 &&
              memcmp(t.x, a.x, sizeof(float) * 5 * 64 * 64) != 0,
          "the test split draws like the training split");
    fr_dataset_free(&b), fr_dataset_free(&c), fr_dataset_free(&t);
    /* no clutter: only the item's block is bright */
    CHECK(fr_dataset_canvas(&b, &src, 40, 0, 7, 1, 0) == 0, "no clutter: %s", fr_last_error());
    int extra = 0;
    for (int i = 0; i < SRC_N; i++) {
        int bright = 0;
        for (int p = 0; p < 40 * 40; p++)
            bright += b.x[i * 40 * 40 + p] > 0;
        extra += bright != 16 * 16;
    }
    CHECK(extra == 0, "%d uncluttered canvases have more than the item", extra);
    fr_dataset_free(&b);
    /* errors */
    CHECK(fr_dataset_canvas(&b, &src, 20, 6, 7, 1, 0) == FR_EINVAL &&
              strstr(fr_last_error(), "side"),
          "side 20 < 28: %s", fr_last_error());
    CHECK(fr_dataset_canvas(&b, &src, 64, 999, 7, 1, 0) == FR_EINVAL, "999 fragments accepted");
    /* the metadata form */
    struct fr_data_spec s = {"fashion-canvas", 48, 3, 99}, back;
    char buf[64];
    CHECK(fr_data_spec_format(&s, buf, sizeof buf) == 0 && !strcmp(buf, "fashion-canvas:48:3:99") &&
              fr_data_spec_parse(buf, &back) == 0 && back.canvas == 48 && back.clutter == 3 &&
              back.seed == 99 && !strcmp(back.name, "fashion-canvas"),
          "spec round trip: '%s'", buf);
    CHECK(fr_data_spec_parse("fashion-canvas:48:3", &back) == FR_EFORMAT &&
              fr_data_spec_parse("fashion-canvas:4:3:1", &back) == FR_EFORMAT &&
              fr_data_spec_parse("cifar", &back) == FR_EFORMAT &&
              fr_data_spec_parse("fashion-mnist", &back) == 0,
          "spec parse of malformed words");
    struct fr_data_spec bad = {"cifar", 0, -1, 0};
    CHECK(fr_dataset_load(&b, &bad, NULL, 1, 0) == FR_ENOTFOUND && strstr(fr_last_error(), "cifar"),
          "unknown dataset: %s", fr_last_error());
    fr_dataset_free(&a);
    fr_dataset_free(&src);
    return check_report("test_canvas");
}

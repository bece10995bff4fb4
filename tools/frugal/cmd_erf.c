/* cmd_erf.c: `frugal erf CKPT`: the effective receptive field of an image
 * classifier checkpoint (RepLKNet's measurement, methods/kd.h): the side of
 * the smallest centred square holding 20/30/50/99% of the log-scaled
 * input-gradient mass of the last feature map's centre, averaged over test
 * images, and the map drawn as an SVG heat map. */
#include "args.h"
#include "cmd.h"

#include "frugal/data.h"
#include "frugal/methods/kd.h"
#include "frugal/models.h"
#include "frugal/report.h"
#include "frugal/status.h"
#include "frugal/threads.h"

#include <stdio.h>
#include <string.h>

int cmd_erf(int argc, char **argv) {
    int64_t images = 200, batch = 50, threads = 0;
    const char *data_dir = DEFAULT_DATA_DIR, *out = "";
    /* clang-format off */
    struct arg_flag flags[] = {
        {.name = "images", .type = ARG_INT, .dst = &images, .min = 1, .max = 1e7,
         .help = "test images to average over (the first N of the test split)"},
        {.name = "batch", .type = ARG_INT, .dst = &batch, .min = 1, .max = 65536,
         .help = "images per forward and backward pass"},
        {.name = "out", .type = ARG_STR, .dst = &out,
         .help = "write the map as an SVG heat map here (empty: none)"},
        {.name = "data-dir", .type = ARG_STR, .dst = &data_dir,
         .help = "directory with the dataset's IDX .gz files (test split)"},
        {.name = "threads", .type = ARG_INT, .dst = &threads, .max = 256,
         .help = "worker threads (0 = all cores)"},
    };
    /* clang-format on */
    struct arg_cmd spec = {
        .name = "erf",
        .synopsis = "frugal erf CKPT [flags]",
        .about = "Measures a classifier's effective receptive field (RepLKNet's method):\n"
                 "the input gradient of the last feature map's centre, log-scaled, and the\n"
                 "smallest centred squares holding 20/30/50/99% of it.",
        .flags = flags,
        .nflags = ARGS_COUNT(flags),
        .min_pos = 1,
        .max_pos = 1,
    };
    const char *pos[1];
    int npos = 0, rc = cli_begin(&spec, argc, argv, pos, &npos);
    if (rc != CLI_GO) return rc;
    if ((rc = cli_check_data_dir("erf", data_dir)) != EXIT_OK) return rc;
    if (threads > 0 && fr_threads_set((int)threads)) return cli_fail("erf", "%s", fr_last_error());
    if (*out && fr_check_writable(out)) return cli_fail("erf", "%s", fr_last_error());
    fr_clear_error();
    struct fr_model *m = fr_model_load(pos[0], NULL);
    if (!m) return cli_fail("erf", "%s", fr_last_error());
    struct fr_dataset te = {0};
    struct fr_erf e = {0};
    struct fr_data_spec data;
    if (!m->features) {
        rc = cli_fail("erf",
                      "%s: model '%s' has no feature map (resnet20, vgg-small, vit, convnext "
                      "and slak have)",
                      pos[0], m->arch);
    } else if (fr_data_spec_parse(m->cfg.data[0] ? m->cfg.data : "fashion-mnist", &data) ||
               fr_dataset_load(&te, &data, data_dir, 0, images)) {
        rc = cli_fail("erf", "%s", fr_last_error());
    } else if (te.C != m->cfg.in_channels || te.H != m->cfg.in_h || te.W != m->cfg.in_w) {
        rc = cli_fail("erf", "%s takes %d x %d x %d images, the data has %d x %d x %d", pos[0],
                      m->cfg.in_channels, m->cfg.in_h, m->cfg.in_w, te.C, te.H, te.W);
    } else if (fr_erf_measure(m, te.x, te.n, (int)batch, &e)) {
        rc = cli_fail("erf", "%s", fr_last_error());
    } else {
        printf("erf of %s (%s) over %lld test images, input %lld x %lld\n", pos[0], m->arch,
               (long long)e.images, (long long)e.w, (long long)e.h);
        for (int t = 0; t < 4; t++)
            printf("  %2.0f%%: side %d (area ratio %.3f)\n", 100 * FR_ERF_THRESH[t], e.side[t],
                   e.area[t]);
        rc = EXIT_OK;
        if (*out) {
            char title[160];
            snprintf(title, sizeof title, "ERF of %s: 20/30/50/99%% squares %d/%d/%d/%d", m->arch,
                     e.side[0], e.side[1], e.side[2], e.side[3]);
            if (fr_heat_write(out, e.map, e.w, e.h, title, e.side, 4))
                rc = cli_fail("erf", "%s", fr_last_error());
            else
                printf("map: %s\n", out);
        }
    }
    fr_erf_free(&e);
    fr_dataset_free(&te);
    fr_model_free(m);
    return rc;
}

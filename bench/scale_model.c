/* scale_model.c: what data-parallel training would gain on more machines.
 *
 * A cost model, fed with compute times measured on one machine: a step at N
 * ranks (the global batch split evenly, every rank on its own machine) is
 *     t(N) = t1 / N + 2 (N-1)/N * S / bw + 2 (N-1) * lat
 * where t1 is the measured one-machine step time, S the gradient bytes
 * all-reduced per step (4 x parameters: one f32 slab), and the last two
 * terms a ring all-reduce (Patarasuk and Yuan): each rank sends and
 * receives 2 (N-1)/N of the slab in 2 (N-1) messages of latency lat.
 * Nothing overlaps (frugal all-reduces after the backward pass), compute
 * is assumed to split perfectly (optimistic for small shards), and the
 * bandwidths are nominal link rates. Speed-up t1 / t(N), efficiency
 * speed-up / N.
 *
 * Usage: scale_model [--model NAME:PARAMS:STEP_SECONDS]... [--svg DIR]
 *                    [--validate NAME:BYTES_PER_STEP:COMM2_S:COMM4_S]
 * Without --model it uses the built-in list (BENCHMARKS.md says where each
 * number was measured). --svg writes one efficiency plot per network.
 * --validate compares the model's bytes per step with the bytes frugal
 * all-reduced in a measured run, fits the link rate to the 2-rank
 * all-reduce time and predicts the 4-rank one: on one machine with
 * oversubscribed ranks this checks the bytes and the shape of the formula,
 * not a network's speed.
 */
#include "frugal/report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct net {
    const char *name, *file;
    double bw, lat; /* bytes/s, seconds per message */
};

static const struct net NETS[] = {
    {"10 Gbit Ethernet", "scale-out-10gbe.svg", 1.25e9, 30e-6},
    {"25 Gbit Ethernet", "scale-out-25gbe.svg", 3.125e9, 20e-6},
    {"100 Gbit Ethernet", "scale-out-100gbe.svg", 12.5e9, 10e-6},
    {"InfiniBand HDR (200 Gbit)", "scale-out-ib-hdr.svg", 25e9, 1.5e-6},
};
#define NNETS ((int)(sizeof NETS / sizeof NETS[0]))

struct model {
    char name[64];
    double params, t1; /* parameters, one-machine step seconds */
};

static double step_time(const struct model *m, const struct net *n, int N) {
    double S = 4.0 * m->params;
    if (N == 1) return m->t1;
    return m->t1 / N + 2.0 * (N - 1) / N * S / n->bw + 2.0 * (N - 1) * n->lat;
}

int main(int argc, char **argv) {
    struct model models[16];
    int nm = 0;
    const char *svg = NULL, *validate = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--model") && i + 1 < argc && nm < 16) {
            struct model *m = &models[nm];
            if (sscanf(argv[++i], "%63[^:]:%lf:%lf", m->name, &m->params, &m->t1) != 3 ||
                !(m->params > 0) || !(m->t1 > 0)) {
                fprintf(stderr, "scale_model: bad --model '%s' (NAME:PARAMS:STEP_SECONDS)\n",
                        argv[i]);
                return 2;
            }
            nm++;
        } else if (!strcmp(argv[i], "--svg") && i + 1 < argc) {
            svg = argv[++i];
        } else if (!strcmp(argv[i], "--validate") && i + 1 < argc) {
            validate = argv[++i];
        } else {
            fprintf(stderr, "usage: scale_model [--model NAME:PARAMS:STEP_SECONDS]... [--svg DIR] "
                            "[--validate NAME:BYTES_PER_STEP:COMM2_S:COMM4_S]\n");
            return 2;
        }
    }
    if (nm == 0) {
        fprintf(stderr, "scale_model: give at least one --model (see BENCHMARKS.md)\n");
        return 2;
    }
    static const int RANKS[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512};
    const int NR = (int)(sizeof RANKS / sizeof RANKS[0]);
    printf("ring all-reduce model, no overlap, compute split evenly; nominal link rates\n\n");
    for (int k = 0; k < NNETS; k++) {
        const struct net *n = &NETS[k];
        printf("### %s (%.3g GB/s, %.3g us per message)\n\n| model | params | step 1 (ms) |",
               n->name, n->bw / 1e9, n->lat * 1e6);
        for (int r = 1; r < NR; r++)
            printf(" %d |", RANKS[r]);
        printf("\n|---|---|---|");
        for (int r = 1; r < NR; r++)
            printf("---|");
        printf("\n");
        struct fr_plot_series ser[16];
        double xs[16][10], ys[16][10];
        for (int i = 0; i < nm; i++) {
            const struct model *m = &models[i];
            printf("| %s | %.3gM | %.2f |", m->name, m->params / 1e6, m->t1 * 1e3);
            for (int r = 0; r < NR; r++) {
                double t = step_time(m, n, RANKS[r]), eff = m->t1 / t / RANKS[r];
                xs[i][r] = RANKS[r], ys[i][r] = eff;
                if (r > 0) printf(" %.0f%% |", 100 * eff);
            }
            printf("\n");
            ser[i] = (struct fr_plot_series){m->name, NR, xs[i], ys[i]};
        }
        printf("\n(cells: scaling efficiency = speed-up / ranks)\n\n");
        if (svg) {
            char path[1024], title[160];
            snprintf(path, sizeof path, "%s/%s", svg, n->file);
            snprintf(title, sizeof title, "Data-parallel efficiency, %s (model)", n->name);
            struct fr_plot p = {.title = title,
                                .xlabel = "ranks (one per machine)",
                                .ylabel = "scaling efficiency",
                                .markers = 1,
                                .log_x = 1};
            if (fr_plot_write(path, &p, nm, ser)) {
                fprintf(stderr, "scale_model: cannot write %s\n", path);
                return 1;
            }
            printf("plot: %s\n\n", path);
        }
    }
    if (validate) {
        char name[64];
        double bytes, c2, c4;
        if (sscanf(validate, "%63[^:]:%lf:%lf:%lf", name, &bytes, &c2, &c4) != 4 || !(c2 > 0)) {
            fprintf(stderr, "scale_model: bad --validate '%s'\n", validate);
            return 2;
        }
        const struct model *m = NULL;
        for (int i = 0; i < nm; i++)
            if (!strcmp(models[i].name, name)) m = &models[i];
        if (!m) {
            fprintf(stderr, "scale_model: --validate names no --model '%s'\n", name);
            return 2;
        }
        double S = 4.0 * m->params;
        /* fit bw (latency neglected) to the 2-rank time: c2 = S / bw */
        double bw = S / c2, pred4 = 2.0 * 3 / 4 * S / bw;
        printf("validation, %s: model bytes per step %.0f, measured %.0f (ratio %.4f); link rate "
               "fitted to the 2-rank all-reduce %.2f GB/s; 4 ranks predicted %.2f ms, measured "
               "%.2f ms (ratio %.2f)\n",
               name, S, bytes, bytes / S, bw / 1e9, pred4 * 1e3, c4 * 1e3, c4 / pred4);
    }
    return 0;
}

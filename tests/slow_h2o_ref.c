/* slow_h2o_ref.c: frugal's streaming evaluation of KV-cache policies
 * (fr_kv_eval_stream, fr_kv_eval_budget) against an independent PyTorch
 * masking simulation (scripts/ref/h2o_ref.py, float64). The windows are
 * those of `frugal repro h2o --quick` for stories260K: 8 windows of its own
 * samples (temperature 1, seed 1, from BOS), 512 tokens each, 384 of them
 * prefilled. Every policy at 10%, 20% and 50% of the window, and the full
 * cache, must give the same perplexity to 1e-3 relative; a table of both is
 * printed. Skipped (77) when the model, /usr/bin/python3 or its torch is
 * missing; fails when the script is missing or any number disagrees.
 */
#include "check.h"
#include "frugal/methods/kv.h"
#include "frugal/methods/kv_eval.h"

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define NAME "slow_h2o_ref"
#define MODEL "data/stories260K.bin"
#define SCRIPT "scripts/ref/h2o_ref.py"
#define PYTHON "/usr/bin/python3"

enum { NWIN = 8, L = 512, P = 384, NPOL = 7, NBUD = 3, NRUN = 1 + (NPOL - 1) * NBUD };

static const char *const POLICIES[NPOL] = {"full", "local", "h2o",     "heavy",
                                           "sink", "tova",  "h2o-anti"};
static const double BUDGETS[NBUD] = {0.1, 0.2, 0.5};

struct run {
    const char *policy;
    double budget, ppl, ref;
    int64_t slots;
    double evicted;
};

/* Writes the windows and frugal's runs as h2o_ref.py reads them. */
static int write_input(const char *path, const int32_t *ids, const struct run *runs, int n) {
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fprintf(f, "# written by tests/slow_h2o_ref.c\nwindow %d prompt %d windows %d\n", L, P, NWIN);
    for (int b = 0; b < NWIN; b++) {
        fprintf(f, "ids");
        for (int t = 0; t < L; t++)
            fprintf(f, " %d", ids[b * L + t]);
        fprintf(f, "\n");
    }
    for (int i = 0; i < n; i++)
        fprintf(f, "run %s %g %.17g\n", runs[i].policy, runs[i].budget, runs[i].ppl);
    return fclose(f);
}

/* Reads the script's "run POLICY FRACTION PPL NLL" lines into runs[].ref
 * (in order, names and budgets checked); returns the number read. */
static int read_output(const char *path, struct run *runs, int n) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char line[512], pol[64];
    double bud, ppl, nll;
    int k = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#') continue;
        if (sscanf(line, "run %63s %lf %lf %lf", pol, &bud, &ppl, &nll) != 4 || k == n) break;
        CHECK(!strcmp(pol, runs[k].policy) && bud == runs[k].budget,
              "reference line %d is %s %g, expected %s %g", k + 1, pol, bud, runs[k].policy,
              runs[k].budget);
        runs[k++].ref = ppl;
    }
    fclose(f);
    return k;
}

int main(void) {
    if (access(MODEL, R_OK)) return check_skip(NAME, MODEL " is missing");
    if (access(PYTHON, X_OK)) return check_skip(NAME, PYTHON " is missing");
    CHECK(access(SCRIPT, R_OK) == 0, "%s is missing", SCRIPT);
    if (access(SCRIPT, R_OK)) return check_report(NAME);
    fr_threads_set(2);
    struct fr_tf_model m;
    int rc = fr_tf_load(&m, MODEL);
    CHECK(rc == 0, "load: %s", fr_last_error());
    if (rc) return check_report(NAME);
    int32_t *ids = malloc(sizeof(int32_t) * NWIN * L);
    struct run runs[NRUN];
    int n = 0;
    rc = fr_kv_eval_self_text(&m, NWIN, L, 1, 1.0f, 1, ids);
    CHECK(rc == 0, "self text: %s", fr_last_error());
    for (int p = 0; p < NPOL && !rc; p++)
        for (int b = 0; b < NBUD && !rc; b++) {
            const struct fr_kv_policy *pol = fr_kv_policy_find(POLICIES[p]);
            struct fr_kv_config kc = {pol, 0, 0, 0, NULL};
            struct fr_kv_eval_run r = {0};
            int full = !strcmp(POLICIES[p], "full");
            if (full && b > 0) break;
            if (!full) fr_kv_eval_budget(pol, BUDGETS[b], L, &kc);
            rc = fr_kv_eval_stream(&m, ids, NWIN, L, P, &kc, NULL, NULL, &r);
            CHECK(rc == 0, "%s: %s", POLICIES[p], fr_last_error());
            runs[n++] =
                (struct run){POLICIES[p], full ? 1.0 : BUDGETS[b], r.ppl, NAN, r.slots, r.evicted};
            CHECK(full || r.evicted == 1, "%s at %g: every head evicts (%.2f did)", POLICIES[p],
                  BUDGETS[b], r.evicted);
        }
    if (rc) goto cleanup;
    char in[1024], out[1024], cmd[3200];
    snprintf(in, sizeof in, "%s", check_tmp("h2o_ref_in.txt"));
    snprintf(out, sizeof out, "%s", check_tmp("h2o_ref_out.txt"));
    CHECK(write_input(in, ids, runs, n) == 0, "cannot write %s", in);
    snprintf(cmd, sizeof cmd, PYTHON " " SCRIPT " " MODEL " '%s' '%s' > /dev/null", in, out);
    int st = system(cmd);
    int code = st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    if (code == CHECK_SKIP) {
        free(ids);
        fr_tf_free(&m);
        return check_skip(NAME, "torch is not installed for " PYTHON " (python3-torch)");
    }
    CHECK(code == 0, "%s exited with %d", SCRIPT, code);
    int got = code == 0 ? read_output(out, runs, n) : 0;
    CHECK(got == n, "the reference gave %d of %d perplexities", got, n);
    printf("%-9s %6s %6s %14s %14s %10s\n", "policy", "budget", "slots", "frugal ppl", "ref ppl",
           "rel diff");
    double worst[NPOL] = {0};
    for (int i = 0; i < got; i++) {
        double rel = fabs(runs[i].ppl - runs[i].ref) / runs[i].ref;
        printf("%-9s %6g %6lld %14.6f %14.6f %10.2e\n", runs[i].policy, runs[i].budget,
               (long long)runs[i].slots, runs[i].ppl, runs[i].ref, rel);
        for (int p = 0; p < NPOL; p++)
            if (!strcmp(runs[i].policy, POLICIES[p]) && !(rel <= worst[p])) worst[p] = rel;
        CHECK(rel <= 1e-3, "%s at %g: frugal ppl %.6f vs reference %.6f (relative %.2e > 1e-3)",
              runs[i].policy, runs[i].budget, runs[i].ppl, runs[i].ref, rel);
    }
    printf("max relative difference:");
    for (int p = 0; p < NPOL; p++)
        printf(" %s %.2e%s", POLICIES[p], worst[p], p + 1 < NPOL ? "," : "\n");
cleanup:
    free(ids);
    fr_tf_free(&m);
    return check_report(NAME);
}

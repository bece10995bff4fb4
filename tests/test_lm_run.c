/* test_lm_run.c: a language-model run recorded as an experiment
 * (experiments/lm_run.h), what `frugal train-lm` is: the directories are
 * made, the evaluation lines go to the log, results.json holds the config
 * (dropout as asked), the metrics, both curves and a sample of the best
 * checkpoint, loss.svg is drawn, and the summary lines say what the CLI
 * prints; a pruned fine-tune records its start; a bad prune or a results
 * directory that cannot be made fails before any training. */
#include "check.h"
#include "frugal/experiments/lm_run.h"
#include "frugal/report.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    size_t got = b ? fread(b, 1, (size_t)n, f) : 0;
    fclose(f);
    if (b) b[got] = '\0';
    return b;
}

static void tiny(struct fr_lm_config *c, const char *data) {
    fr_lm_config_defaults(c);
    c->data = data;
    c->model.n_layers = 1;
    c->model.n_heads = 2;
    c->model.dim = 32;
    c->model.dropout = 0.1f;
    c->block = 32;
    c->batch = 4;
    c->iters = 20;
    c->eval_interval = 10;
    c->eval_iters = 1;
    c->warmup = 2;
    c->lr = 3e-3;
}

static double config_num(const cJSON *doc, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItem(doc, "config"), key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static const char *config_str(const cJSON *doc, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItem(doc, "config"), key);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static void test_run(const char *txt, const char *dir, const char *best, char *log_path) {
    struct fr_lm_config c;
    tiny(&c, txt);
    c.out = best;
    FILE *log = fopen(log_path, "w");
    struct fr_lm_run_info info = {
        .command = "frugal train-lm --test", .results_dir = dir, .log = log};
    struct fr_lm_run_result r;
    char path[1024], sum[1024], want[1100];
    int rc = fr_lm_run_recorded(&c, &info, &r, path, sizeof path);
    if (log) fclose(log);
    snprintf(want, sizeof want, "%s/results.json", dir);
    CHECK(rc == 0 && r.trained && r.lm.n_evals == 3 && !strcmp(path, want),
          "run: rc %d (%s), %d evaluations, results %s", rc, fr_last_error(), r.lm.n_evals, path);
    char *lg = slurp(log_path);
    CHECK(lg && strstr(lg, "iter 0: train loss ") && strstr(lg, "iter 19: train loss "),
          "evaluation lines in the log");
    free(lg);
    snprintf(want, sizeof want, "%s/loss.svg", dir);
    CHECK(access(want, R_OK) == 0 && access(best, R_OK) == 0, "loss.svg and the checkpoint");
    char *js = slurp(path);
    cJSON *doc = js ? cJSON_Parse(js) : NULL;
    CHECK(doc != NULL, "results.json parses");
    if (doc) {
        const cJSON *cmd = cJSON_GetObjectItem(doc, "command");
        const cJSON *notes = cJSON_GetObjectItem(doc, "notes");
        const cJSON *mt = cJSON_GetObjectItem(doc, "metrics");
        const cJSON *params = cJSON_GetObjectItem(cJSON_GetObjectItem(mt, "params"), "value");
        CHECK(cJSON_IsString(cmd) && !strcmp(cmd->valuestring, "frugal train-lm --test"),
              "command recorded");
        CHECK(!strcmp(config_str(doc, "arch"), "gpt2") && !strcmp(config_str(doc, "data"), txt) &&
                  !strcmp(config_str(doc, "tokenizer"), "char") && config_num(doc, "layers") == 1 &&
                  config_num(doc, "heads") == 2 && config_num(doc, "dim") == 32 &&
                  config_num(doc, "block") == 32 && config_num(doc, "batch") == 4 &&
                  config_num(doc, "iters") == 20 && config_num(doc, "lr") == 3e-3,
              "config recorded");
        CHECK(config_num(doc, "dropout") == 0.1, "dropout recorded as asked: %.17g",
              config_num(doc, "dropout"));
        CHECK(cJSON_GetObjectItem(cJSON_GetObjectItem(doc, "config"), "init") == NULL &&
                  cJSON_GetObjectItem(mt, "init_val_loss") == NULL &&
                  cJSON_GetObjectItem(doc, "paper") == NULL,
              "no fine-tune entries, no paper for a configuration that is not nanoGPT's");
        CHECK(cJSON_IsNumber(params) && params->valuedouble == (double)r.lm.n_params,
              "params metric");
        CHECK(cJSON_IsString(notes) &&
                  strstr(notes->valuestring, "Sample from the best checkpoint (temperature 0.8): "),
              "a sample in the notes");
    }
    cJSON_Delete(doc);
    free(js);
    struct fr_results *res = fr_results_read(path);
    int64_t n = 0;
    const double *x, *y;
    CHECK(res && fr_results_get_series(res, "val loss", &n, &x, &y) == 0 && n == 3 && x[2] == 19,
          "the validation curve: %lld points", (long long)n);
    fr_results_free(res);
    fr_lm_run_summary(&c, &info, &r.lm, sum, sizeof sum);
    CHECK(!strncmp(sum, "params ", 7) && strstr(sum, "\nbest val loss ") &&
              strstr(sum, "(estimated on 1 batches)") && !strstr(sum, "start (") &&
              sum[strlen(sum) - 1] == '\n',
          "summary: [%s]", sum);
    fr_lm_result_free(&r.lm);
}

static void test_pruned_finetune(const char *txt, const char *dir, const char *init) {
    struct fr_lm_config c;
    tiny(&c, txt);
    c.init = init;
    c.iters = 5;
    c.eval_interval = 5;
    struct fr_lm_run_info info = {.results_dir = dir, .prune = 0.5, .prune_layerwise = 1};
    struct fr_lm_run_result r;
    char path[1024], sum[1024];
    int rc = fr_lm_run_recorded(&c, &info, &r, path, sizeof path);
    CHECK(rc == 0 && r.trained && r.lm.scope_sparsity >= 0.5 && isfinite(r.lm.init_val_loss),
          "pruned fine-tune: rc %d (%s), scope sparsity %g", rc, fr_last_error(),
          r.lm.scope_sparsity);
    char *js = rc ? NULL : slurp(path);
    cJSON *doc = js ? cJSON_Parse(js) : NULL;
    const cJSON *mt = cJSON_GetObjectItem(doc, "metrics");
    CHECK(doc && !strcmp(config_str(doc, "init"), init) && config_num(doc, "prune") == 0.5 &&
              config_num(doc, "prune_layerwise") == 1 && cJSON_GetObjectItem(mt, "init_val_loss") &&
              cJSON_GetObjectItem(mt, "scope_sparsity") && !cJSON_GetObjectItem(doc, "notes"),
          "the start is recorded (and no sample without --out)");
    cJSON_Delete(doc);
    free(js);
    fr_lm_run_summary(&c, &info, &r.lm, sum, sizeof sum);
    char want[1024];
    snprintf(want, sizeof want, "start (%s, pruned): full validation split ", init);
    CHECK(strstr(sum, want) != NULL, "summary names the start: [%s]", sum);
    fr_lm_result_free(&r.lm);
}

static void test_refusals(const char *txt, const char *file) {
    struct fr_lm_config c;
    tiny(&c, txt);
    char dir[1024], path[1024];
    struct fr_lm_run_info info = {.prune = 1.5};
    struct fr_lm_run_result r;
    int rc = fr_lm_run_recorded(&c, &info, &r, path, sizeof path);
    CHECK(rc == FR_EINVAL && !r.trained && path[0] == '\0', "prune 1.5: rc %d [%s]", rc,
          fr_last_error());
    fr_lm_result_free(&r.lm);
    snprintf(dir, sizeof dir, "%s/res", file); /* under a regular file */
    info.prune = 0;
    info.results_dir = dir;
    rc = fr_lm_run_recorded(&c, &info, &r, path, sizeof path);
    CHECK(rc != 0 && !r.trained && strstr(fr_last_error(), "not a directory"),
          "a results directory under a file: rc %d [%s]", rc, fr_last_error());
    fr_lm_result_free(&r.lm);
    info.results_dir = "";
    c.iters = 2;
    c.eval_interval = 1;
    rc = fr_lm_run_recorded(&c, &info, &r, path, sizeof path);
    CHECK(rc == 0 && r.trained && path[0] == '\0', "no results directory: nothing recorded");
    fr_lm_result_free(&r.lm);
}

int main(void) {
    fr_threads_set(2);
    char txt[768], dir[768], best[768], log[768], dir2[768];
    snprintf(txt, sizeof txt, "%s", check_tmp("lm.txt"));
    snprintf(dir, sizeof dir, "%s", check_tmp("run/results"));
    snprintf(dir2, sizeof dir2, "%s", check_tmp("ft"));
    snprintf(best, sizeof best, "%s", check_tmp("run/model/best.safetensors"));
    snprintf(log, sizeof log, "%s", check_tmp("log.txt"));
    FILE *in = fopen("data/tinyshakespeare.txt", "rb");
    if (!in) return check_skip("test_lm_run", "data/tinyshakespeare.txt is missing");
    FILE *out = fopen(txt, "wb");
    char *buf = malloc(20000);
    size_t n = buf ? fread(buf, 1, 20000, in) : 0;
    if (out && n) fwrite(buf, 1, n, out);
    if (out) fclose(out);
    fclose(in);
    free(buf);
    CHECK(n == 20000, "20 KB of data/tinyshakespeare.txt");
    test_run(txt, dir, best, log);
    test_pruned_finetune(txt, dir2, best);
    test_refusals(txt, txt);
    return check_report("test_lm_run");
}

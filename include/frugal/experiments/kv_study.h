/* experiments/kv_study.h: one model's KV-eviction study written as results
 * (`frugal kv-eval`, and each model of `frugal repro h2o`): load the model
 * and its tokenizer, read held-out windows of a text (or the model's own
 * samples), run fr_kv_eval_model (methods/kv_eval.h) and record every
 * number, table, series and plot into a results document.
 */
#ifndef FRUGAL_EXPERIMENTS_KV_STUDY_H
#define FRUGAL_EXPERIMENTS_KV_STUDY_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct fr_results;
struct fr_kv_study;
struct fr_tokenizer;

struct fr_kv_study_spec {
    const char *model;     /* checkpoint path */
    const char *text;      /* text whose last 10% is read; NULL: the model's own samples */
    const char *label;     /* prefixes metric keys, tables and plot files */
    const char *tokenizer; /* NULL: MODEL.tok (if present) */
    int64_t length, prompt, windows; /* 0 length: the model's context; 0 prompt: length / 8 */
    const char *const *policies;
    int npolicies;
    const double *budgets; /* fractions of the window */
    int nbudgets;
    uint64_t seed;   /* of the self-generated text */
    const char *dir; /* plots go here (the results.json's directory); NULL: none */
    const char *model_shown, *text_shown; /* recorded instead of the paths (NULL: the paths) */
    void (*progress)(void *user, const char *line);
    void *user;
    struct fr_kv_study *keep; /* when set, receives the study (fr_kv_study_free it) */
};

/* Runs the study of sp->model into r (config, metrics, tables, series,
 * plots). Errors per status.h, naming the file at fault. */
int fr_kv_study_run(const struct fr_kv_study_spec *sp, struct fr_results *r);

/* `frugal kv-eval` as one call: creates out_dir, runs the study of sp
 * (plots into out_dir), writes out_dir/results.json with the command and
 * seed, and puts its path into results_path. Errors per status.h; a bad
 * output directory fails before the model is read. */
int fr_kv_study_recorded(const struct fr_kv_study_spec *sp, const char *command,
                         const char *out_dir, char *results_path, size_t cap);

/* Records a finished study st of model `label` into r with plots in dir
 * (NULL: none); tok (may be NULL) names the heavy-hitter tokens. */
int fr_kv_study_record(struct fr_results *r, const char *label, const struct fr_kv_study *st,
                       const char *const *policies, const double *budgets,
                       const struct fr_tokenizer *tok, const char *dir);

#ifdef __cplusplus
}
#endif
#endif

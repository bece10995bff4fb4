/* common.c: helpers the subcommands share: one-line errors, the shared
 * preamble (cli_begin), the thread pool, up-front checks on paths (so a
 * typo fails in milliseconds with a clear message, not after a model is
 * built), the tokenizer beside a model, the reproducing command line
 * recorded in results, and the train-then-record run of `train` and `demo`. */
#include "args.h"
#include "cmd.h"

#include "frugal/dist.h"
#include "frugal/experiments/train_run.h"
#include "frugal/status.h"
#include "frugal/threads.h"
#include "frugal/tokenizer.h"
#include "frugal/train.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int cli_fail(const char *cmd, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* keep it one line whatever the library said */
    for (char *p = msg; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
    fflush(stdout);
    if (fr_dist_size() > 1) /* under mpirun: say which rank */
        fprintf(stderr, "frugal %s: rank %d of %d: %s\n", cmd, fr_dist_rank(), fr_dist_size(), msg);
    else
        fprintf(stderr, "frugal %s: %s\n", cmd, msg);
    return EXIT_RUNTIME;
}

int cli_begin(const struct arg_cmd *spec, int argc, char **argv, const char **pos, int *npos) {
    const char *none[1];
    int n = 0;
    int rc = args_parse(spec, argc, argv, pos ? pos : none, npos ? npos : &n);
    if (rc == ARGS_HELP) return EXIT_OK;
    if (rc != ARGS_OK) return EXIT_USAGE;
    for (int i = 0; i < spec->nflags; i++)
        if (spec->flags[i].type == ARG_INT && !strcmp(spec->flags[i].name, "threads"))
            return (rc = cli_threads(spec->name, *(int64_t *)spec->flags[i].dst)) ? rc : CLI_GO;
    return CLI_GO;
}

int cli_threads(const char *cmd, int64_t threads) {
    if (fr_threads_set((int)threads) != 0)
        return cli_fail(cmd, "cannot use %lld threads: %s", (long long)threads, fr_last_error());
    return EXIT_OK;
}

int cli_check_dir(const char *cmd, const char *what, const char *dir) {
    struct stat st;
    if (stat(dir, &st) != 0) return cli_fail(cmd, "%s %s: %s", what, dir, strerror(errno));
    if (!S_ISDIR(st.st_mode)) return cli_fail(cmd, "%s %s: not a directory", what, dir);
    if (access(dir, R_OK | X_OK) != 0)
        return cli_fail(cmd, "%s %s: %s", what, dir, strerror(errno));
    return EXIT_OK;
}

int cli_check_data_dir(const char *cmd, const char *dir) {
    return cli_check_dir(cmd, "dataset directory", dir && *dir ? dir : DEFAULT_DATA_DIR);
}

int cli_check_precision(const char *cmd, const char *precision) {
    int prev;
    if (fr_precision_begin(precision, &prev)) return cli_fail(cmd, "%s", fr_last_error());
    fr_precision_end(prev);
    return EXIT_OK;
}

int cli_open_tokenizer(const char *cmd, const char *model, const char *path,
                       struct fr_tokenizer **tok) {
    char buf[4096];
    *tok = NULL;
    if (!path) {
        snprintf(buf, sizeof buf, "%s.tok", model);
        if (access(buf, F_OK) != 0) return EXIT_OK; /* the loader refuses a FIFO */
        path = buf;
    }
    if (fr_tokenizer_load(path, tok)) return cli_fail(cmd, "%s", fr_last_error());
    return EXIT_OK;
}

void cli_command_line(int argc, char **argv, char *buf, size_t cap) {
    size_t n = (size_t)snprintf(buf, cap, "frugal");
    for (int i = 0; i < argc && n < cap; i++) {
        const char *a = argv[i];
        int plain = *a != '\0';
        for (const char *p = a; *p; p++)
            if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=./,:+%@",
                        *p))
                plain = 0;
        if (plain) {
            n += (size_t)snprintf(buf + n, cap - n, " %s", a);
            continue;
        }
        n += (size_t)snprintf(buf + n, cap - n, " '");
        for (const char *p = a; *p && n < cap; p++)
            n += (size_t)(*p == '\'' ? snprintf(buf + n, cap - n, "'\\''")
                                     : snprintf(buf + n, cap - n, "%c", *p));
        if (n < cap) n += (size_t)snprintf(buf + n, cap - n, "'");
    }
}

int cli_train_and_record(const char *cmd, const struct fr_train_config *cfg,
                         const struct fr_train_run_info *info) {
    struct fr_train_run_info ri = *info;
    struct fr_train_result res;
    char path[4200], summary[2048];
    ri.log = fr_dist_rank() == 0 ? stderr : NULL; /* one progress bar per job */
    fr_clear_error();
    if (fr_train_run_recorded(cfg, &ri, &res, path, sizeof path))
        return cli_fail(cmd, "%s", fr_last_error()[0] ? fr_last_error() : "training failed");
    fr_train_run_summary(cfg, &res, path, summary, sizeof summary);
    fputs(summary, stdout);
    fflush(stdout);
    fr_train_result_free(&res);
    return EXIT_OK;
}

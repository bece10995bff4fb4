/* repro.h: the registry behind `frugal repro NAME`. Each reproducible
 * experiment is one function in its own file (repro_<name>.c) and one line
 * in the table in cmd_repro.c. A function trains/measures, writes
 * OUT/<name>/results.json (with the paper, claim, command, metrics and plots)
 * and returns an exit code (printing one line on stderr on failure). */
#ifndef FRUGAL_CLI_REPRO_H
#define FRUGAL_CLI_REPRO_H

#include <stdint.h>

struct repro_opts {
    int quick;       /* a small, fast version (subset, fewer steps) */
    int64_t threads; /* already applied to the pool */
    uint64_t seed;
    const char *data_dir; /* dataset directory (NULL = the method's default) */
    const char *out;      /* results root, e.g. "out" */
    const char *command;  /* the command line that reproduces this run */
};

struct repro_method {
    const char *name;
    const char *paper; /* the seed paper it reproduces, or "baseline" */
    const char *about; /* one line */
    int (*run)(const struct repro_opts *o);
};


#endif

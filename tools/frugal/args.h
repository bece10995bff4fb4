/* args.h: the CLI's small flag parser.
 *
 * Each subcommand declares a table of flags; each flag has a type (int,
 * double, string, bool), a destination that holds its default before
 * parsing, an optional range or set of choices, and a help line. Accepted
 * forms: `--flag value`, `--flag=value`, and for bools `--flag` (true) or
 * `--flag=0|1|true|false|yes|no`. `--` ends the flags; anything not starting
 * with `--` is a positional argument. `-h`/`--help` prints the usage text,
 * which lists every flag with its default.
 *
 * It deliberately has no short options, no repeated flags, and no
 * environment lookups: one way to say each thing. Tables are written with
 * designated initializers, one flag per entry and its help on the next line,
 * between clang-format off/on comments (clang-format would put every field
 * on a line of its own):
 *
 *     {.name = "lr", .type = ARG_DOUBLE, .dst = &lr, .max = 10, .open_min = 1,
 *      .help = "peak learning rate"},
 *
 * A range says every value the library would refuse on its own, so such a
 * value is a usage error (exit 2) here, before any file is read, never a
 * runtime error after minutes of work.
 */
#ifndef FRUGAL_CLI_ARGS_H
#define FRUGAL_CLI_ARGS_H

#include <stdint.h>
#include <stdio.h>

enum arg_type { ARG_INT, ARG_DOUBLE, ARG_STR, ARG_BOOL };

struct arg_flag {
    const char *name; /* without the leading "--" */
    enum arg_type type;
    void *dst; /* int64_t*, double*, const char**, int* (bool) */
    const char *help;
    double min, max; /* inclusive range for ARG_INT/ARG_DOUBLE; ignored when min == max == 0 */
    /* the range excludes min (max): lr in (0, 10] is .max = 10, .open_min = 1 */
    int open_min, open_max;
    const char *const *choices; /* ARG_STR: NULL-terminated allowed values, or NULL for any */
    int required;               /* ARG_STR: must be given (a NULL or "" value is a usage error) */
};

/* The number of entries of a flag table. */
#define ARGS_COUNT(flags) ((int)(sizeof(flags) / sizeof((flags)[0])))

struct arg_cmd {
    const char *name;     /* subcommand, used in messages: "frugal <name>: ..." */
    const char *synopsis; /* e.g. "frugal eval CKPT [flags]" */
    const char *about;    /* one or two sentences */
    struct arg_flag *flags;
    int nflags;
    int min_pos, max_pos; /* allowed number of positional arguments */
};

enum { ARGS_OK = 0, ARGS_HELP = 1, ARGS_USAGE = 2 };

/* Parses argv[1..argc) (argv[0] is the subcommand name) into the flags'
 * destinations and collects positional arguments into pos[] (capacity
 * max_pos; *npos receives the count). Returns ARGS_OK; ARGS_HELP after
 * printing the usage text to stdout; or ARGS_USAGE after printing one line
 * `frugal <cmd>: <message>` to stderr. Defaults shown by --help are those the
 * destinations held when args_parse was called. */
int args_parse(const struct arg_cmd *cmd, int argc, char **argv, const char **pos, int *npos);

/* Prints the usage text (synopsis, about, every flag with its default). */
void args_usage(const struct arg_cmd *cmd, FILE *f);

#endif

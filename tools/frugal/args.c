/* args.c: the CLI flag parser (see args.h). Usage errors print exactly one
 * line to stderr so scripts and tests can rely on the shape of the message. */
#include "args.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *type_word(enum arg_type t) {
    switch (t) {
    case ARG_INT:
        return "INT";
    case ARG_DOUBLE:
        return "X";
    case ARG_STR:
        return "STR";
    case ARG_BOOL:
        return "";
    }
    return "";
}

static void format_value(const struct arg_flag *f, char *buf, size_t cap) {
    switch (f->type) {
    case ARG_INT:
        snprintf(buf, cap, "%lld", (long long)*(int64_t *)f->dst);
        break;
    case ARG_DOUBLE:
        snprintf(buf, cap, "%g", *(double *)f->dst);
        break;
    case ARG_STR: {
        const char *s = *(const char **)f->dst;
        snprintf(buf, cap, "%s", !s ? "none" : *s ? s : "\"\"");
        break;
    }
    case ARG_BOOL:
        snprintf(buf, cap, "%s", *(int *)f->dst ? "on" : "off");
        break;
    }
}

void args_usage(const struct arg_cmd *cmd, FILE *f) {
    fprintf(f, "usage: %s\n", cmd->synopsis);
    if (cmd->about) fprintf(f, "%s\n", cmd->about);
    if (cmd->nflags == 0) return;
    fprintf(f, "\nflags:\n");
    for (int i = 0; i < cmd->nflags; i++) {
        const struct arg_flag *fl = &cmd->flags[i];
        char left[64], def[256];
        snprintf(left, sizeof left, "--%s %s", fl->name, type_word(fl->type));
        format_value(fl, def, sizeof def);
        if (fl->required) snprintf(def, sizeof def, "required");
        fprintf(f, "  %-22s %s", left, fl->help);
        if (fl->choices) {
            fprintf(f, " [");
            for (int c = 0; fl->choices[c]; c++)
                fprintf(f, "%s%s", c ? "|" : "", fl->choices[c]);
            fprintf(f, "]");
        }
        fprintf(f, fl->required ? " (%s)\n" : " (default: %s)\n", def);
    }
    fprintf(f, "  %-22s %s\n", "--help", "print this text and exit");
}

#define USAGE(...)                                                                                 \
    do {                                                                                           \
        fprintf(stderr, "frugal %s: ", cmd->name);                                                 \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fprintf(stderr, "\n");                                                                     \
        return ARGS_USAGE;                                                                         \
    } while (0)

static int in_range(const struct arg_flag *f, double v) {
    if (f->min == 0 && f->max == 0 && !f->open_min && !f->open_max) return 1;
    return (f->open_min ? v > f->min : v >= f->min) && (f->open_max ? v < f->max : v <= f->max);
}

/* "[0, 1)", "(0, 10]": the range as a message shows it. */
static void range_str(const struct arg_flag *f, char *buf, size_t cap) {
    if (f->min == 0 && f->max == 0 && !f->open_min && !f->open_max)
        snprintf(buf, cap, "of a 64-bit integer");
    else if (f->type == ARG_INT)
        snprintf(buf, cap, "%c%.0f, %.0f%c", f->open_min ? '(' : '[', f->min, f->max,
                 f->open_max ? ')' : ']');
    else
        snprintf(buf, cap, "%c%g, %g%c", f->open_min ? '(' : '[', f->min, f->max,
                 f->open_max ? ')' : ']');
}

static int parse_bool(const char *s, int *out) {
    static const char *yes[] = {"1", "true", "yes", "on"}, *no[] = {"0", "false", "no", "off"};
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, yes[i]) == 0) return *out = 1, 0;
        if (strcmp(s, no[i]) == 0) return *out = 0, 0;
    }
    return -1;
}

/* Stores value v (from the command line) into flag f. */
static int set_value(const struct arg_cmd *cmd, const struct arg_flag *f, const char *v) {
    char *end = NULL;
    switch (f->type) {
    case ARG_INT: {
        errno = 0;
        long long x = strtoll(v, &end, 10);
        if (*v == '\0' || *end != '\0') USAGE("--%s needs an integer, got '%s'", f->name, v);
        char r[96];
        range_str(f, r, sizeof r);
        if (errno == ERANGE || !in_range(f, (double)x))
            USAGE("--%s %s is out of range %s", f->name, v, r);
        *(int64_t *)f->dst = x;
        break;
    }
    case ARG_DOUBLE: {
        double x = strtod(v, &end);
        if (*v == '\0' || *end != '\0' || !isfinite(x))
            USAGE("--%s needs a finite number, got '%s'", f->name, v);
        char r[96];
        range_str(f, r, sizeof r);
        if (!in_range(f, x)) USAGE("--%s %s is out of range %s", f->name, v, r);
        *(double *)f->dst = x;
        break;
    }
    case ARG_STR:
        if (f->choices) {
            int ok = 0;
            for (int c = 0; f->choices[c] && !ok; c++)
                ok = strcmp(f->choices[c], v) == 0;
            if (!ok) {
                char list[256] = "";
                for (int c = 0; f->choices[c]; c++) {
                    size_t n = strlen(list);
                    snprintf(list + n, sizeof list - n, "%s%s", c ? ", " : "", f->choices[c]);
                }
                USAGE("--%s '%s' is not one of: %s", f->name, v, list);
            }
        }
        *(const char **)f->dst = v;
        break;
    case ARG_BOOL:
        if (parse_bool(v, (int *)f->dst) != 0)
            USAGE("--%s takes true or false, got '%s'", f->name, v);
        break;
    }
    return ARGS_OK;
}

int args_parse(const struct arg_cmd *cmd, int argc, char **argv, const char **pos, int *npos) {
    *npos = 0;
    /* --help first, so the usage text shows the defaults, not parsed values. */
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            args_usage(cmd, stdout);
            return ARGS_HELP;
        }
    }
    int flags_done = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (flags_done || a[0] != '-' || strcmp(a, "-") == 0) {
            if (*npos >= cmd->max_pos) {
                if (cmd->max_pos == 0) USAGE("unexpected argument '%s'", a);
                USAGE("too many arguments (at most %d; see --help)", cmd->max_pos);
            }
            pos[(*npos)++] = a;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            flags_done = 1;
            continue;
        }
        if (a[1] != '-') USAGE("unknown flag '%s' (flags are --name; see --help)", a);
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const struct arg_flag *f = NULL;
        for (int k = 0; k < cmd->nflags && !f; k++)
            if (strlen(cmd->flags[k].name) == len && strncmp(cmd->flags[k].name, name, len) == 0)
                f = &cmd->flags[k];
        if (!f) USAGE("unknown flag '--%.*s' (see frugal %s --help)", (int)len, name, cmd->name);
        const char *v;
        if (eq) {
            v = eq + 1;
        } else if (f->type == ARG_BOOL) {
            v = "true";
        } else {
            if (i + 1 >= argc) USAGE("--%s needs a value", f->name);
            v = argv[++i];
        }
        int rc = set_value(cmd, f, v);
        if (rc != ARGS_OK) return rc;
    }
    if (*npos < cmd->min_pos) USAGE("missing argument (usage: %s)", cmd->synopsis);
    for (int k = 0; k < cmd->nflags; k++) {
        const struct arg_flag *f = &cmd->flags[k];
        const char *v = f->type == ARG_STR ? *(const char **)f->dst : NULL;
        if (f->required && (!v || !*v))
            USAGE("--%s is required (see frugal %s --help)", f->name, cmd->name);
    }
    return ARGS_OK;
}

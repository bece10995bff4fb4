/* cmd.h: the frugal subcommands and the helpers they share.
 *
 * Each subcommand is `int cmd_<name>(int argc, char **argv)` with argv[0] the
 * subcommand's name, returning the process exit code: 0 ok, 1 runtime error
 * (one line on stderr), 2 usage error (one line on stderr, from args.c).
 */
#ifndef FRUGAL_CLI_CMD_H
#define FRUGAL_CLI_CMD_H

#include "frugal/experiments/train_run.h"

#include <stddef.h>
#include <stdint.h>

enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_info(int argc, char **argv); /* cmd_info.c */
int cmd_report(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_repro(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_tune(int argc, char **argv); /* cmd_tune.c */
/* language-model commands (cmd_generate.c, cmd_perplexity.c, cmd_train_lm.c) */
int cmd_generate(int argc, char **argv);
int cmd_perplexity(int argc, char **argv);
int cmd_train_lm(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_prune(int argc, char **argv);
int cmd_sparsity(int argc, char **argv);
int cmd_shrink(int argc, char **argv);    /* cmd_shrink.c */
int cmd_reparam(int argc, char **argv);   /* cmd_reparam.c */
int cmd_nas_bench(int argc, char **argv); /* cmd_nas_bench.c */
int cmd_proxy(int argc, char **argv);     /* cmd_proxy.c */
int cmd_erf(int argc, char **argv);       /* cmd_erf.c */
int cmd_kv_eval(int argc, char **argv);   /* cmd_kv_eval.c */

/* The start every command shares: parses argv against spec (args.h:
 * flags, positionals, required flags; --help prints the usage text), then
 * applies --threads when the command has that flag. Returns CLI_GO when the
 * command should go on, else the exit code to return at once (EXIT_OK after
 * --help, EXIT_USAGE or EXIT_RUNTIME after printing one line). */
struct arg_cmd;
#define CLI_GO (-1)
int cli_begin(const struct arg_cmd *spec, int argc, char **argv, const char **pos, int *npos);

/* Prints `frugal <cmd>: <message>` (message printf-style) as one line on
 * stderr and returns EXIT_RUNTIME. */
int cli_fail(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Sets the thread pool (0 = all online CPUs); prints the error and returns
 * EXIT_RUNTIME when it cannot. */
int cli_threads(const char *cmd, int64_t threads);

/* Checks that dir is a readable directory; prints "frugal CMD: WHAT DIR:
 * reason" and returns EXIT_RUNTIME when not. cli_check_data_dir is it for
 * a dataset directory (NULL or "" = the default one). */
int cli_check_dir(const char *cmd, const char *what, const char *dir);
int cli_check_data_dir(const char *cmd, const char *dir);
/* --precision usable on this CPU (fr_precision_begin), else the one-line
 * error and EXIT_RUNTIME: checked before any data is read. */
int cli_check_precision(const char *cmd, const char *precision);

/* The tokenizer of a model: the file path, else MODEL.tok beside the
 * checkpoint; *tok is NULL (and EXIT_OK returned) when path is NULL and
 * there is no MODEL.tok (token ids only). Prints the error and returns
 * EXIT_RUNTIME when the file does not load. */
struct fr_tokenizer;
int cli_open_tokenizer(const char *cmd, const char *model, const char *path,
                       struct fr_tokenizer **tok);

/* The command line that reproduces this invocation: "frugal " + argv,
 * shell-quoted where needed (truncated to cap). */
void cli_command_line(int argc, char **argv, char *buf, size_t cap);

/* Runs fr_train_run_recorded (experiments/train_run.h) with info (its log
 * set to stderr: the progress display), then prints the summary ending in
 * `test acc NN.NN%` on stdout. Returns an exit code; on failure one line on
 * stderr. */
int cli_train_and_record(const char *cmd, const struct fr_train_config *cfg,
                         const struct fr_train_run_info *info);

#define DEFAULT_DATA_DIR "/usr/share/datasets/fashion-mnist"

#endif

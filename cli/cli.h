/* cli.h -- the vbt command line: declarative usage tables, the shared
 * option group, progress bar and provenance helpers. */
#ifndef VBT_CLI_H
#define VBT_CLI_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cJSON.h>

#include "vbt_io.h"
#include "vbt_text.h"

/* Exit codes of every command. */
enum { CLI_OK = 0, CLI_ERROR = 1, CLI_USAGE = 2 };

typedef enum cli_kind {
    CLI_FLAG,       /* no value */
    CLI_INT,        /* integer in [min, max] */
    CLI_FLOAT,      /* number in [min, max] */
    CLI_TEXT,       /* free text or one of `choices` */
    CLI_FILE_IN,    /* existing input file or directory */
    CLI_FILE_OUT    /* output file or directory */
} cli_kind;

typedef struct cli_option {
    const char *name;       /* long name without "--" */
    char short_name;        /* 0 when none */
    cli_kind kind;
    const char *metavar;    /* "DIR", "N" */
    const char *def;        /* default as text, NULL when none */
    double min, max;        /* numeric range (CLI_INT, CLI_FLOAT) */
    const char *choices;    /* "none|max|row-sum" for CLI_TEXT, or NULL */
    const char *doc;
    int required;           /* the command cannot run without it */
    int standalone;         /* given, no required option is needed (e.g. --resume: they
                               come from elsewhere) */
    const char *applies;    /* the sub-commands it belongs to, comma-separated
                               ("features,ei,plot", shown in this order); NULL:
                               every one.  Giving it to another is a usage error; with
                               `required`, those sub-commands need it.  Help prints the
                               list before the doc: "[features, ei, plot] ..." */
    const char *when;       /* "method=smc", "method=nuts|laplace": it belongs to runs in
                               which that option of the same table (CLI_TEXT with choices)
                               has one of these values, given or by default; "plan": runs
                               given that flag.  Given in another run it is a usage error.
                               NULL: always.  Help prints "[--method smc] " or "[--plan] "
                               before the doc. */
} cli_option;

typedef struct cli_argument {
    const char *name;       /* "CONFIG" */
    cli_kind kind;
    const char *doc;
} cli_argument;

typedef struct cli_parsed cli_parsed;

/* A sub-command: the first argument of its command names it (`vbt seeg
 * features ...`).  It takes the command's remaining arguments and those of
 * the command's options whose `applies` lists it (or is NULL). */
typedef struct cli_subcommand {
    const char *name;
    int (*run)(const cli_parsed *p);
} cli_subcommand;

typedef struct cli_command {
    const char *name;
    const char *synopsis;       /* one line */
    const char *description;    /* paragraphs separated by "\n\n" */
    const cli_argument *args;
    size_t n_args;
    const cli_option *opts;     /* command-specific options */
    size_t n_opts;
    const char *const *references; /* NULL-terminated, may be NULL */
    int (*run)(const cli_parsed *p);    /* cli_run_subcommand with sub-commands */
    /* Sub-commands, or NULL.  args[0] (CLI_TEXT, e.g. "ACTION") names one;
     * cli_parse rejects any other name and any option that does not apply. */
    const cli_subcommand *subcommands;
    size_t n_subcommands;
} cli_command;

/* The most positional arguments and options a command may declare; a
 * larger table is an internal error that cli_parse reports (exit 1). */
enum { CLI_MAX_ARGS = 8, CLI_MAX_OPTS = 128 };

/* The shared option group appended to every command. */
typedef struct cli_common {
    int force, quiet, verbose;
    long threads;
    uint64_t seed;
    int seed_given;
} cli_common;

struct cli_parsed {
    const cli_command *cmd;
    const cli_subcommand *sub;  /* the sub-command args[0] names; NULL when none */
    int argc;                   /* the whole command line, for provenance */
    char **argv;
    const char *args[CLI_MAX_ARGS];     /* positional values */
    const char *values[CLI_MAX_OPTS];   /* per command option; NULL when absent */
    cli_common common;
};

/* Parse argv (after the command name) against cmd.  Prints help or version
 * and returns -1 with *exit_code set when the run should stop there; a
 * malformed table (too many options, `applies` naming no sub-command, ...)
 * stops it with an internal error, exit 1. */
int cli_parse(const cli_command *cmd, int argc, char **argv, int first, cli_parsed *p,
              int *exit_code);

/* 0 when cmd's table is well formed; else -1 with the reason in err. */
int cli_check_command(const cli_command *cmd, char *err, size_t errlen);

/* The `run` of a command with sub-commands: runs p->sub. */
int cli_run_subcommand(const cli_parsed *p);

/* The command of a NULL-terminated table with this name, or NULL. */
const cli_command *cli_find_command(const cli_command *const *table, const char *name);

/* Typed access to a command option by name (the value or its default). */
const char *cli_str(const cli_parsed *p, const char *name);
int cli_flag(const cli_parsed *p, const char *name);
double cli_float(const cli_parsed *p, const char *name);

void cli_print_help(FILE *f, const cli_command *cmd);
void cli_print_markdown(FILE *f, const cli_command *cmd);
/* A CWL CommandLineTool for `vbt CMD [SUB]` (usage.c); -1 for a wrong SUB. */
int cli_print_cwl(FILE *f, const cli_command *cmd, const char *sub);

/* One error line on stderr: "vbt <cmd>: <message>". */
void cli_error(const cli_parsed *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Informational line on stderr unless --quiet. */
void cli_info(const cli_parsed *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Progress on stderr, never with --quiet.  On a terminal a bar, redrawn
 * once the job has run for more than a second; otherwise (a batch job's log)
 * a line "label: 42.0% done, 12.3 s elapsed, about 17.0 s left" every 5 s
 * of updates, and one at the end. */
typedef struct cli_progress {
    const char *label;
    double t0, last;
    int enabled, shown, log;
} cli_progress;
void cli_progress_begin(cli_progress *pr, const cli_parsed *p, const char *label);
void cli_progress_update(cli_progress *pr, double fraction, const char *extra);
void cli_progress_end(cli_progress *pr);
double cli_now(void);

/* With --quiet, send stdout to /dev/null (main() calls it after parsing). */
void cli_quiet_stdout(const cli_parsed *p);

/* Exactly n comma-separated numbers (strtod syntax) from s into v: 0, or -1
 * when s holds fewer, more, or something else. */
int cli_parse_numbers(const char *s, double *v, size_t n);

/* Provenance: {"vbt_version", "command", "seed", "inputs": {...}} to which
 * the command adds its own keys.  Inputs are hashed with SHA-256. */
cJSON *cli_provenance_new(const cli_parsed *p);
int cli_provenance_add_input(cJSON *prov, const char *role, const char *path,
                             char *err, size_t errlen);

/* Write j, pretty-printed and newline-terminated, as file `name` of the
 * staged output directory (atomically); -1 with msg set on failure. */
int cli_write_json(vbt_outdir *od, const char *name, const cJSON *j, vbt_msg *msg);

/* Write the text buffer b as file `name` of the staged output directory
 * (atomically), then free it; -1 with msg set on failure (an append that
 * ran out of memory included). */
int cli_write_text(vbt_outdir *od, const char *name, vbt_textbuf *b, vbt_msg *msg);

/* Set by the SIGINT/SIGTERM handler only; long loops and worker threads
 * read it between chunks. */
extern volatile sig_atomic_t cli_interrupted;
void cli_install_signal_handlers(void);

/* Commands. */
extern const cli_command cli_cmd_simulate;
extern const cli_command cli_cmd_sweep;
extern const cli_command cli_cmd_models;
extern const cli_command cli_cmd_pipeline;
extern const cli_command cli_cmd_cohort;
/* connectomes/ commands */
extern const cli_command cli_cmd_connectome;
extern const cli_command cli_cmd_contacts;
extern const cli_command cli_cmd_gain;
/* clinical/ commands */
extern const cli_command cli_cmd_seeg;
extern const cli_command cli_cmd_predict;
extern const cli_command cli_cmd_surgery;
extern const cli_command cli_cmd_twin;
/* fitting/ commands */
extern const cli_command cli_cmd_fit;

#endif

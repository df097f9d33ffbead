/* usage.c -- parsing the command line against a command's usage table, and
 * generating --help and the markdown reference from the same table. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "vbt.h"

/* The option group every command shares.  Indices are fixed. */
enum { STD_FORCE, STD_QUIET, STD_VERBOSE, STD_THREADS, STD_SEED, STD_HELP, STD_VERSION,
       N_STD };
static const cli_option std_opts[N_STD] = {
    [STD_FORCE] = {"force", 0, CLI_FLAG, NULL, NULL, 0, 0, NULL,
                   "overwrite existing outputs (otherwise refuse and exit 1)"},
    [STD_QUIET] = {"quiet", 'q', CLI_FLAG, NULL, NULL, 0, 0, NULL,
                   "print nothing but errors; no progress bar"},
    [STD_VERBOSE] = {"verbose", 'v', CLI_FLAG, NULL, NULL, 0, 0, NULL,
                     "print more detail on stderr"},
    [STD_THREADS] = {"threads", 0, CLI_INT, "N", "1", 1, 1024, NULL,
                     "number of threads to use"},
    [STD_SEED] = {"seed", 0, CLI_INT, "N", NULL, 0, 9007199254740992.0, NULL,
                  "random seed (overrides the seed in a configuration file)"},
    [STD_HELP] = {"help", 'h', CLI_FLAG, NULL, NULL, 0, 0, NULL,
                  "print this help and exit"},
    [STD_VERSION] = {"version", 'V', CLI_FLAG, NULL, NULL, 0, 0, NULL,
                     "print the version and exit"},
};

static const char *kind_name(cli_kind k)
{
    switch (k) {
    case CLI_FLAG: return "flag";
    case CLI_INT: return "integer";
    case CLI_FLOAT: return "number";
    case CLI_TEXT: return "text";
    case CLI_FILE_IN: return "input path";
    case CLI_FILE_OUT: return "output path";
    }
    return "?";
}

static void usage_error(const cli_command *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void usage_error(const cli_command *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "vbt %s: ", cmd->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see 'vbt %s --help')\n", cmd->name);
}

/* Check a value against its option's kind and range; 0 when fine. */
static int check_value(const cli_command *cmd, const cli_option *o, const char *v)
{
    char *end;
    if (o->kind == CLI_INT || o->kind == CLI_FLOAT) {
        errno = 0;
        double d = strtod(v, &end);
        if (end == v || *end || errno || !isfinite(d)) {
            usage_error(cmd, "--%s expects %s, got '%s'", o->name,
                        o->kind == CLI_INT ? "an integer" : "a number", v);
            return -1;
        }
        if (o->kind == CLI_INT && d != floor(d)) {
            usage_error(cmd, "--%s expects an integer, got '%s'", o->name, v);
            return -1;
        }
        if (d < o->min || d > o->max) {
            usage_error(cmd, "--%s must be in [%g, %g], got %s", o->name, o->min, o->max, v);
            return -1;
        }
    } else if (o->kind == CLI_TEXT && o->choices) {
        size_t len = strlen(v);
        const char *c = o->choices;
        while (c && *c) {
            const char *bar = strchr(c, '|');
            size_t cl = bar ? (size_t)(bar - c) : strlen(c);
            if (cl == len && strncmp(c, v, len) == 0)
                return 0;
            c = bar ? bar + 1 : NULL;
        }
        usage_error(cmd, "--%s must be one of %s, got '%s'", o->name, o->choices, v);
        return -1;
    }
    return 0;
}

static const cli_option *find_opt(const cli_command *cmd, const char *name, size_t nlen,
                                  char short_name, int *idx, int *std)
{
    for (size_t i = 0; i < cmd->n_opts; i++) {
        const cli_option *o = &cmd->opts[i];
        if ((name && strlen(o->name) == nlen && strncmp(o->name, name, nlen) == 0) ||
            (!name && short_name && o->short_name == short_name)) {
            *idx = (int)i;
            *std = 0;
            return o;
        }
    }
    for (int i = 0; i < N_STD; i++) {
        const cli_option *o = &std_opts[i];
        if ((name && strlen(o->name) == nlen && strncmp(o->name, name, nlen) == 0) ||
            (!name && short_name && o->short_name == short_name)) {
            *idx = i;
            *std = 1;
            return o;
        }
    }
    return NULL;
}

/* Does option o belong to sub-command `sub` (its `applies` list names it)? */
static int applies_to(const cli_option *o, const char *sub)
{
    if (!o->applies)
        return 1;
    size_t len = strlen(sub);
    for (const char *c = o->applies; c;) {
        const char *comma = strchr(c, ',');
        size_t cl = comma ? (size_t)(comma - c) : strlen(c);
        if (cl == len && strncmp(c, sub, len) == 0)
            return 1;
        c = comma ? comma + 1 : NULL;
    }
    return 0;
}

/* The option that o->when names (its index in cmd->opts), with the values
 * after '=' in *vals (NULL when it names a flag); -1 when there is none. */
static long when_option(const cli_command *cmd, const cli_option *o, const char **vals)
{
    const char *eq = strchr(o->when, '=');
    *vals = eq ? eq + 1 : NULL;
    size_t len = eq ? (size_t)(eq - o->when) : strlen(o->when);
    for (size_t i = 0; i < cmd->n_opts; i++)
        if (strlen(cmd->opts[i].name) == len && strncmp(cmd->opts[i].name, o->when, len) == 0)
            return (long)i;
    return -1;
}

/* Is `v` one of the '|'-separated `list`? */
static int in_list(const char *list, const char *v)
{
    size_t len = strlen(v);
    for (const char *c = list; c;) {
        const char *bar = strchr(c, '|');
        size_t cl = bar ? (size_t)(bar - c) : strlen(c);
        if (cl == len && strncmp(c, v, len) == 0)
            return 1;
        c = bar ? bar + 1 : NULL;
    }
    return 0;
}

static const cli_subcommand *find_sub(const cli_command *cmd, const char *name, size_t len)
{
    for (size_t i = 0; i < cmd->n_subcommands; i++)
        if (strlen(cmd->subcommands[i].name) == len &&
            strncmp(cmd->subcommands[i].name, name, len) == 0)
            return &cmd->subcommands[i];
    return NULL;
}

/* "a, b or c": the sub-command names, for messages. */
static void sub_list(const cli_command *cmd, char *buf, size_t len)
{
    size_t at = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < cmd->n_subcommands && at < len; i++) {
        const char *sep = i == 0 ? "" : i + 1 == cmd->n_subcommands ? " or " : ", ";
        int n = snprintf(buf + at, len - at, "%s%s", sep, cmd->subcommands[i].name);
        if (n < 0)
            break;
        at += (size_t)n;
    }
}

int cli_check_command(const cli_command *cmd, char *err, size_t errlen)
{
    if (!cmd->name || !cmd->run) {
        snprintf(err, errlen, "a command without a name or a run function");
        return -1;
    }
    if (cmd->n_args > CLI_MAX_ARGS || (cmd->n_args && !cmd->args)) {
        snprintf(err, errlen, "the usage table declares %zu arguments; at most %d fit",
                 cmd->n_args, (int)CLI_MAX_ARGS);
        return -1;
    }
    if (cmd->n_opts > CLI_MAX_OPTS || (cmd->n_opts && !cmd->opts)) {
        snprintf(err, errlen, "the usage table declares %zu options; at most %d fit "
                 "(raise CLI_MAX_OPTS in cli/cli.h)", cmd->n_opts, (int)CLI_MAX_OPTS);
        return -1;
    }
    if (cmd->n_subcommands &&
        (!cmd->subcommands || cmd->n_args == 0 || cmd->args[0].kind != CLI_TEXT)) {
        snprintf(err, errlen, "sub-commands need a first argument of kind text to name them");
        return -1;
    }
    for (size_t i = 0; i < cmd->n_subcommands; i++)
        if (!cmd->subcommands[i].name || !cmd->subcommands[i].run) {
            snprintf(err, errlen, "sub-command %zu has no name or no run function", i);
            return -1;
        }
    for (size_t i = 0; i < cmd->n_opts; i++) {
        const cli_option *o = &cmd->opts[i];
        int dummy_idx, dummy_std;
        if (!o->name || !o->doc) {
            snprintf(err, errlen, "option %zu has no name or no doc", i);
            return -1;
        }
        if (find_opt(cmd, o->name, strlen(o->name), 0, &dummy_idx, &dummy_std) != o ||
            (o->short_name &&
             find_opt(cmd, NULL, 0, o->short_name, &dummy_idx, &dummy_std) != o)) {
            snprintf(err, errlen, "option --%s is declared twice", o->name);
            return -1;
        }
        for (int k = 0; k < N_STD; k++)
            if (!strcmp(o->name, std_opts[k].name) ||
                (o->short_name && o->short_name == std_opts[k].short_name)) {
                snprintf(err, errlen, "option --%s clashes with the standard --%s", o->name,
                         std_opts[k].name);
                return -1;
            }
        if (o->when) {
            const char *vals;
            long w = when_option(cmd, o, &vals);
            if (w < 0 || cmd->opts[w].when ||
                (vals ? cmd->opts[w].kind != CLI_TEXT || !cmd->opts[w].choices
                      : cmd->opts[w].kind != CLI_FLAG)) {
                snprintf(err, errlen, "option --%s: when '%s' names no unconditional flag or "
                         "option with choices", o->name, o->when);
                return -1;
            }
            for (const char *c = vals; c;) {
                const char *bar = strchr(c, '|');
                char v[64];
                snprintf(v, sizeof v, "%.*s", bar ? (int)(bar - c) : (int)strlen(c), c);
                if (!in_list(cmd->opts[w].choices, v)) {
                    snprintf(err, errlen, "option --%s: when '%s': '%s' is no choice of --%s",
                             o->name, o->when, v, cmd->opts[w].name);
                    return -1;
                }
                c = bar ? bar + 1 : NULL;
            }
        }
        if (!o->applies)
            continue;
        if (!cmd->n_subcommands) {
            snprintf(err, errlen, "option --%s applies to sub-commands, but there are none",
                     o->name);
            return -1;
        }
        for (const char *c = o->applies; c;) {
            const char *comma = strchr(c, ',');
            size_t cl = comma ? (size_t)(comma - c) : strlen(c);
            if (!find_sub(cmd, c, cl)) {
                snprintf(err, errlen, "option --%s applies to '%.*s', which is no sub-command",
                         o->name, (int)cl, c);
                return -1;
            }
            c = comma ? comma + 1 : NULL;
        }
    }
    return 0;
}

int cli_run_subcommand(const cli_parsed *p)
{
    if (!p->sub) {
        cli_error(p, "internal error: no sub-command to run");
        return CLI_ERROR;
    }
    return p->sub->run(p);
}

const cli_command *cli_find_command(const cli_command *const *table, const char *name)
{
    for (size_t i = 0; table[i]; i++)
        if (strcmp(table[i]->name, name) == 0)
            return table[i];
    return NULL;
}

/* " -o PATH" or " --labels TABLE": how usage lines and messages show an option. */
static void option_form(const cli_option *o, char *buf, size_t len)
{
    int n = o->short_name ? snprintf(buf, len, "-%c", o->short_name)
                          : snprintf(buf, len, "--%s", o->name);
    if (n >= 0 && (size_t)n < len && o->kind != CLI_FLAG)
        snprintf(buf + n, len - (size_t)n, " %s", o->metavar ? o->metavar : kind_name(o->kind));
}

int cli_parse(const cli_command *cmd, int argc, char **argv, int first, cli_parsed *p,
              int *exit_code)
{
    const char *stdv[N_STD] = {0};
    size_t npos = 0;
    int only_pos = 0;

    memset(p, 0, sizeof *p);
    p->cmd = cmd;
    p->argc = argc;
    p->argv = argv;
    char why[256];
    if (cli_check_command(cmd, why, sizeof why)) {
        fprintf(stderr, "vbt %s: internal error: %s\n", cmd->name ? cmd->name : "?", why);
        *exit_code = CLI_ERROR;
        return -1;
    }
    for (int a = first; a < argc; a++) {
        const char *arg = argv[a];
        if (!only_pos && strcmp(arg, "--") == 0) {
            only_pos = 1;
            continue;
        }
        if (only_pos || arg[0] != '-' || arg[1] == '\0') {
            if (npos >= cmd->n_args) {
                usage_error(cmd, "unexpected argument '%s'", arg);
                *exit_code = CLI_USAGE;
                return -1;
            }
            p->args[npos++] = arg;
            continue;
        }
        const cli_option *o;
        int idx, is_std;
        const char *val = NULL;
        if (arg[1] == '-') {
            const char *name = arg + 2, *eq = strchr(name, '=');
            size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
            o = find_opt(cmd, name, nlen, 0, &idx, &is_std);
            if (!o) {
                usage_error(cmd, "unknown option '--%.*s'", (int)nlen, name);
                *exit_code = CLI_USAGE;
                return -1;
            }
            if (eq)
                val = eq + 1;
        } else {
            if (arg[2] != '\0') {
                usage_error(cmd, "unknown option '%s' (short options take no attached value)",
                            arg);
                *exit_code = CLI_USAGE;
                return -1;
            }
            o = find_opt(cmd, NULL, 0, arg[1], &idx, &is_std);
            if (!o) {
                usage_error(cmd, "unknown option '%s'", arg);
                *exit_code = CLI_USAGE;
                return -1;
            }
        }
        if (o->kind == CLI_FLAG) {
            if (val) {
                usage_error(cmd, "--%s takes no value", o->name);
                *exit_code = CLI_USAGE;
                return -1;
            }
            val = "1";
        } else if (!val) {
            if (a + 1 >= argc) {
                usage_error(cmd, "--%s needs a value (%s)", o->name,
                            o->metavar ? o->metavar : kind_name(o->kind));
                *exit_code = CLI_USAGE;
                return -1;
            }
            val = argv[++a];
        }
        if (check_value(cmd, o, val)) {
            *exit_code = CLI_USAGE;
            return -1;
        }
        if (is_std)
            stdv[idx] = val;
        else
            p->values[idx] = val;
    }
    if (stdv[STD_HELP]) {
        cli_print_help(stdout, cmd);
        *exit_code = CLI_OK;
        return -1;
    }
    if (stdv[STD_VERSION]) {
        printf("vbt %s\n", vbt_version());
        *exit_code = CLI_OK;
        return -1;
    }
    if (npos < cmd->n_args) {
        usage_error(cmd, "missing argument %s", cmd->args[npos].name);
        *exit_code = CLI_USAGE;
        return -1;
    }
    if (cmd->n_subcommands) {
        p->sub = find_sub(cmd, p->args[0], strlen(p->args[0]));
        if (!p->sub) {
            char names[512];
            sub_list(cmd, names, sizeof names);
            usage_error(cmd, "unknown action '%s': expected %s", p->args[0], names);
            *exit_code = CLI_USAGE;
            return -1;
        }
        for (size_t i = 0; i < cmd->n_opts; i++)
            if (p->values[i] && !applies_to(&cmd->opts[i], p->sub->name)) {
                usage_error(cmd, "--%s does not apply to '%s'", cmd->opts[i].name,
                            p->sub->name);
                *exit_code = CLI_USAGE;
                return -1;
            }
    }
    for (size_t i = 0; i < cmd->n_opts; i++) {
        const cli_option *o = &cmd->opts[i];
        const char *vals = NULL;
        if (!o->when || !p->values[i])
            continue;
        long w = when_option(cmd, o, &vals);
        const char *sel = p->values[w] ? p->values[w] : cmd->opts[w].def;
        if (!vals && !p->values[w]) {
            usage_error(cmd, "--%s applies only with --%s", o->name, cmd->opts[w].name);
            *exit_code = CLI_USAGE;
            return -1;
        }
        if (vals && (!sel || !in_list(vals, sel))) {
            usage_error(cmd, "--%s applies only with --%s %s", o->name, cmd->opts[w].name,
                        vals);
            *exit_code = CLI_USAGE;
            return -1;
        }
    }
    int standalone = 0;
    for (size_t i = 0; i < cmd->n_opts; i++)
        standalone |= cmd->opts[i].standalone && p->values[i];
    for (size_t i = 0; i < cmd->n_opts && !standalone; i++) {
        const cli_option *o = &cmd->opts[i];
        if (!o->required || p->values[i] || (p->sub && !applies_to(o, p->sub->name)))
            continue;
        if (p->sub && o->applies) {
            char form[128];
            option_form(o, form, sizeof form);
            usage_error(cmd, "'%s' needs %s", p->sub->name, form);
        } else {
            usage_error(cmd, "missing required option --%s %s", o->name,
                        o->metavar ? o->metavar : "");
        }
        *exit_code = CLI_USAGE;
        return -1;
    }
    p->common.force = stdv[STD_FORCE] != NULL;
    p->common.quiet = stdv[STD_QUIET] != NULL;
    p->common.verbose = stdv[STD_VERBOSE] != NULL;
    p->common.threads = stdv[STD_THREADS] ? strtol(stdv[STD_THREADS], NULL, 10) : 1;
    if (stdv[STD_SEED]) {
        p->common.seed = (uint64_t)strtod(stdv[STD_SEED], NULL);
        p->common.seed_given = 1;
    }
    /* Inputs must exist: that is an error on the file, not a usage error. */
    for (size_t i = 0; i < npos; i++) {
        struct stat st;
        if (cmd->args[i].kind == CLI_FILE_IN && stat(p->args[i], &st) != 0) {
            fprintf(stderr, "vbt %s: cannot open '%s': %s\n", cmd->name, p->args[i],
                    strerror(errno));
            *exit_code = CLI_ERROR;
            return -1;
        }
    }
    for (size_t i = 0; i < cmd->n_opts; i++) {
        struct stat st;
        if (cmd->opts[i].kind == CLI_FILE_IN && p->values[i] && stat(p->values[i], &st) != 0) {
            fprintf(stderr, "vbt %s: cannot open '%s': %s\n", cmd->name, p->values[i],
                    strerror(errno));
            *exit_code = CLI_ERROR;
            return -1;
        }
    }
    return 0;
}

static long opt_index(const cli_parsed *p, const char *name)
{
    for (size_t i = 0; i < p->cmd->n_opts; i++)
        if (strcmp(p->cmd->opts[i].name, name) == 0)
            return (long)i;
    return -1;
}

const char *cli_str(const cli_parsed *p, const char *name)
{
    long i = opt_index(p, name);
    if (i < 0)
        return NULL;
    return p->values[i] ? p->values[i] : p->cmd->opts[i].def;
}

int cli_flag(const cli_parsed *p, const char *name)
{
    long i = opt_index(p, name);
    return i >= 0 && p->values[i] != NULL;
}

double cli_float(const cli_parsed *p, const char *name)
{
    const char *s = cli_str(p, name);
    return s ? strtod(s, NULL) : NAN;
}

/* ---- help ----------------------------------------------------------------- */

static void print_wrapped(FILE *f, const char *text, int indent, int width)
{
    int col = indent;
    fprintf(f, "%*s", indent, "");
    while (*text) {
        if (text[0] == '\n' && text[1] == '\n') {
            fprintf(f, "\n\n%*s", indent, "");
            col = indent;
            text += 2;
            continue;
        }
        while (*text == ' ' || *text == '\n')
            text++;
        const char *w = text;
        while (*text && *text != ' ' && *text != '\n')
            text++;
        int len = (int)(text - w);
        if (len == 0)
            continue;
        if (col > indent && col + 1 + len > width) {
            fprintf(f, "\n%*s", indent, "");
            col = indent;
        } else if (col > indent) {
            fputc(' ', f);
            col++;
        }
        fprintf(f, "%.*s", len, w);
        col += len;
    }
    fputc('\n', f);
}

/* "[features, ei] " (the sub-commands an option belongs to) or "[--method
 * smc] " (the runs it belongs to), before its doc. */
static int applies_prefix(const cli_option *o, char *buf, size_t len)
{
    size_t at = 0;
    buf[0] = '\0';
    for (const char *c = o->applies; c && at < len;) {
        const char *comma = strchr(c, ',');
        int cl = comma ? (int)(comma - c) : (int)strlen(c);
        int n = snprintf(buf + at, len - at, "%s%.*s%s", c == o->applies ? "[" : "", cl, c,
                         comma ? ", " : "] ");
        at = n < 0 ? len : at + (size_t)n;
        c = comma ? comma + 1 : NULL;
    }
    if (o->when && at < len) {
        const char *eq = strchr(o->when, '=');
        int n = eq ? snprintf(buf + at, len - at, "[--%.*s %s] ", (int)(eq - o->when), o->when,
                              eq + 1)
                   : snprintf(buf + at, len - at, "[--%s] ", o->when);
        at = n < 0 ? len : at + (size_t)n;
    }
    if (at >= len) {    /* never with the tables' short lists */
        buf[0] = '\0';
        return 0;
    }
    return (int)at;
}

/* Append to buf (len bytes, *at used), truncating rather than overflowing. */
static void append(char *buf, size_t len, size_t *at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void append(char *buf, size_t len, size_t *at, const char *fmt, ...)
{
    if (*at + 1 >= len)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *at, len - *at, fmt, ap);
    va_end(ap);
    *at = n < 0 ? *at : *at + (size_t)n < len ? *at + (size_t)n : len - 1;
}

static void print_option(FILE *f, const cli_option *o)
{
    char head[96];
    size_t n = 0;
    head[0] = '\0';
    if (o->short_name)
        append(head, sizeof head, &n, "-%c, ", o->short_name);
    append(head, sizeof head, &n, "--%s", o->name);
    if (o->kind != CLI_FLAG)
        append(head, sizeof head, &n, " %s", o->metavar ? o->metavar : kind_name(o->kind));
    fprintf(f, "  %s\n", head);
    char doc[2048];
    size_t m = (size_t)applies_prefix(o, doc, sizeof doc);
    append(doc, sizeof doc, &m, "%s", o->doc);
    if (o->choices)
        append(doc, sizeof doc, &m, " (one of %s)", o->choices);
    if ((o->kind == CLI_INT || o->kind == CLI_FLOAT) && o->max > o->min)
        append(doc, sizeof doc, &m, " (range %g to %g)", o->min, o->max);
    if (o->def)
        append(doc, sizeof doc, &m, " [default: %s]", o->def);
    print_wrapped(f, doc, 8, 79);
}

/* The usage lines: one per sub-command (or one), then one per standalone
 * option.  Help shows the required options; the markdown reference does not. */
static void print_usage_lines(FILE *f, const cli_command *cmd, const char *indent,
                              int with_required)
{
    size_t nsub = cmd->n_subcommands ? cmd->n_subcommands : 1;
    for (size_t s = 0; s < nsub; s++) {
        const cli_subcommand *sub = cmd->n_subcommands ? &cmd->subcommands[s] : NULL;
        fprintf(f, "%svbt %s", indent, cmd->name);
        for (size_t i = 0; i < cmd->n_args; i++)
            fprintf(f, " %s", i == 0 && sub ? sub->name : cmd->args[i].name);
        for (size_t i = 0; with_required && i < cmd->n_opts; i++)
            if (cmd->opts[i].required && (!sub || applies_to(&cmd->opts[i], sub->name))) {
                char form[128];
                option_form(&cmd->opts[i], form, sizeof form);
                fprintf(f, " %s", form);
            }
        fprintf(f, " [options]\n");
    }
    for (size_t i = 0; i < cmd->n_opts; i++)
        if (cmd->opts[i].standalone)
            fprintf(f, "%svbt %s --%s %s [options]\n", indent, cmd->name, cmd->opts[i].name,
                    cmd->opts[i].metavar ? cmd->opts[i].metavar : kind_name(cmd->opts[i].kind));
}

void cli_print_help(FILE *f, const cli_command *cmd)
{
    fprintf(f, "vbt %s: %s\n\nUSAGE\n", cmd->name, cmd->synopsis);
    print_usage_lines(f, cmd, "  ", 1);
    fprintf(f, "\nDESCRIPTION\n");
    print_wrapped(f, cmd->description, 2, 79);
    if (cmd->n_args) {
        fprintf(f, "\nARGUMENTS\n");
        for (size_t i = 0; i < cmd->n_args; i++) {
            fprintf(f, "  %s (%s)\n", cmd->args[i].name, kind_name(cmd->args[i].kind));
            print_wrapped(f, cmd->args[i].doc, 8, 79);
        }
    }
    if (cmd->n_opts) {
        fprintf(f, "\nOPTIONS\n");
        for (size_t i = 0; i < cmd->n_opts; i++)
            print_option(f, &cmd->opts[i]);
    }
    fprintf(f, "\nSTANDARD OPTIONS\n");
    for (int i = 0; i < N_STD; i++)
        print_option(f, &std_opts[i]);
    fprintf(f, "\nEXIT STATUS\n  0 success, 1 error (bad input, failed run), 2 usage error\n");
    if (cmd->references && cmd->references[0]) {
        fprintf(f, "\nREFERENCES\n");
        for (size_t i = 0; cmd->references[i]; i++)
            print_wrapped(f, cmd->references[i], 2, 79);
    }
}

static void md_option(FILE *f, const cli_option *o)
{
    fprintf(f, "| `");
    if (o->short_name)
        fprintf(f, "-%c`, `", o->short_name);
    fprintf(f, "--%s", o->name);
    if (o->kind != CLI_FLAG)
        fprintf(f, " %s", o->metavar ? o->metavar : kind_name(o->kind));
    char prefix[256];
    applies_prefix(o, prefix, sizeof prefix);
    fprintf(f, "` | %s%s", prefix, o->doc);
    if (o->choices)
        fprintf(f, " (one of `%s`)", o->choices);
    fprintf(f, " | %s |\n", o->def ? o->def : "");
}

void cli_print_markdown(FILE *f, const cli_command *cmd)
{
    fprintf(f, "## vbt %s\n\n%s.\n\n```\n", cmd->name, cmd->synopsis);
    print_usage_lines(f, cmd, "", 0);
    fprintf(f, "```\n\n%s\n\n", cmd->description);
    for (size_t i = 0; i < cmd->n_args; i++)
        fprintf(f, "- `%s` (%s): %s\n", cmd->args[i].name, kind_name(cmd->args[i].kind),
                cmd->args[i].doc);
    fprintf(f, "\n| option | meaning | default |\n|---|---|---|\n");
    for (size_t i = 0; i < cmd->n_opts; i++)
        md_option(f, &cmd->opts[i]);
    for (int i = 0; i < N_STD; i++)
        md_option(f, &std_opts[i]);
    if (cmd->references && cmd->references[0]) {
        fprintf(f, "\nReferences:\n\n");
        for (size_t i = 0; cmd->references[i]; i++)
            fprintf(f, "- %s\n", cmd->references[i]);
    }
    fprintf(f, "\n");
}

/* Write text on one line: control characters coming from user input (a key
 * with a newline in it) are escaped, so every error stays one line. */
static void put_one_line(FILE *f, const char *s)
{
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '\n')
            fputs("\\n", f);
        else if (ch == '\t')
            fputs("\\t", f);
        else if (ch < 0x20 || ch == 0x7f)
            fprintf(f, "\\x%02x", ch);
        else
            fputc(ch, f);
    }
}

void cli_error(const cli_parsed *p, const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fprintf(stderr, "vbt %s: ", p && p->cmd ? p->cmd->name : "");
    put_one_line(stderr, buf);
    fputc('\n', stderr);
}

void cli_info(const cli_parsed *p, const char *fmt, ...)
{
    if (p && p->common.quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* ---- CWL ------------------------------------------------------------------ */

static void cwl_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", f);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

/* A path that names a folder: its name or metavar says DIR, OUT, PATIENT or
 * DATASET (the convention of the usage tables). */
static int cwl_is_dir(const char *name, const char *metavar)
{
    const char *const words[] = {"DIR", "OUT", "PATIENT", "DATASET"};
    for (size_t i = 0; i < sizeof words / sizeof *words; i++)
        if ((name && strstr(name, words[i])) || (metavar && strstr(metavar, words[i])))
            return 1;
    return 0;
}

static void cwl_id(FILE *f, const char *name)
{
    fputc('"', f);
    for (; *name; name++)
        fputc(*name == '-' ? '_' : *name, f);
    fputc('"', f);
}

static void cwl_option(FILE *f, const cli_option *o, int *first)
{
    const char *type = o->kind == CLI_FLAG ? "boolean" : o->kind == CLI_INT ? "int"
                       : o->kind == CLI_FLOAT ? "double" : o->kind == CLI_FILE_IN
                       ? (cwl_is_dir(o->name, o->metavar) ? "Directory" : "File") : "string";
    fprintf(f, "%s\n    ", *first ? "" : ",");
    *first = 0;
    cwl_id(f, o->name);
    fprintf(f, ": {\"type\": \"%s%s\", \"doc\": ", type, o->required ? "" : "?");
    char prefix[256];
    applies_prefix(o, prefix, sizeof prefix);
    char doc[2048];
    snprintf(doc, sizeof doc, "%s%s%s%s%s%s", prefix, o->doc, o->choices ? " (one of " : "",
             o->choices ? o->choices : "", o->choices ? ")" : "",
             o->def ? "; vbt's default when absent" : "");
    cwl_string(f, doc);
    fprintf(f, ", \"inputBinding\": {\"prefix\": \"--%s\"}}", o->name);
}

/* A CWL v1.2 CommandLineTool (JSON, which is YAML) for `vbt CMD [SUB]`,
 * from the same table as --help: positional arguments by position, every
 * option (those of SUB, the common ones but --help and --version) by
 * prefix, and the required output paths (CLI_FILE_OUT) as outputs.  Paths
 * that name folders (DIR, OUT, PATIENT, DATASET) are Directory, else File.
 * Returns 0, or -1 when SUB is not a sub-command of cmd (or is missing). */
int cli_print_cwl(FILE *f, const cli_command *cmd, const char *sub)
{
    if ((cmd->n_subcommands > 0) != (sub != NULL))
        return -1;
    if (sub && !find_sub(cmd, sub, strlen(sub)))
        return -1;
    fprintf(f, "{\n  \"cwlVersion\": \"v1.2\",\n  \"class\": \"CommandLineTool\",\n"
               "  \"label\": ");
    char label[512];
    snprintf(label, sizeof label, "vbt %s%s%s: %s", cmd->name, sub ? " " : "", sub ? sub : "",
             cmd->synopsis);
    cwl_string(f, label);
    fprintf(f, ",\n  \"doc\": ");
    cwl_string(f, cmd->description);
    fprintf(f, ",\n  \"baseCommand\": [\"vbt\", ");
    cwl_string(f, cmd->name);
    if (sub) {
        fprintf(f, ", ");
        cwl_string(f, sub);
    }
    fprintf(f, "],\n  \"inputs\": {");
    int first = 1;
    for (size_t i = sub ? 1 : 0; i < cmd->n_args; i++) {
        const cli_argument *a = &cmd->args[i];
        const char *type = a->kind == CLI_FILE_IN ? (cwl_is_dir(a->name, NULL) || sub
                                                     ? "Directory" : "File")
                           : a->kind == CLI_INT ? "int" : a->kind == CLI_FLOAT ? "double"
                           : "string";
        fprintf(f, "%s\n    ", first ? "" : ",");
        first = 0;
        cwl_id(f, a->name);
        fprintf(f, ": {\"type\": \"%s\", \"doc\": ", type);
        cwl_string(f, a->doc);
        fprintf(f, ", \"inputBinding\": {\"position\": %zu}}", i + 1);
    }
    for (size_t i = 0; i < cmd->n_opts; i++)
        if (!sub || applies_to(&cmd->opts[i], sub))
            cwl_option(f, &cmd->opts[i], &first);
    for (int i = 0; i < N_STD; i++)
        if (i != STD_HELP && i != STD_VERSION)
            cwl_option(f, &std_opts[i], &first);
    fprintf(f, "\n  },\n  \"outputs\": {");
    first = 1;
    for (size_t i = 0; i < cmd->n_opts; i++) {
        const cli_option *o = &cmd->opts[i];
        if (o->kind != CLI_FILE_OUT || !o->required || (sub && !applies_to(o, sub)))
            continue;
        fprintf(f, "%s\n    ", first ? "" : ",");
        first = 0;
        fputc('"', f);
        for (const char *c = o->name; *c; c++)
            fputc(*c == '-' ? '_' : *c, f);
        fprintf(f, "_result\": {\"type\": \"%s\", \"outputBinding\": {\"glob\": \"$(inputs.",
                cwl_is_dir(o->name, o->metavar) ? "Directory" : "File");
        for (const char *c = o->name; *c; c++)
            fputc(*c == '-' ? '_' : *c, f);
        fprintf(f, ")\"}}");
    }
    fprintf(f, "\n  }\n}\n");
    return 0;
}

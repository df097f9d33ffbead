/* common.c -- progress bar, provenance, signals: what every command shares. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "vbt.h"

volatile sig_atomic_t cli_interrupted;

static void on_signal(int sig)
{
    (void)sig;
    cli_interrupted = 1;
}

void cli_install_signal_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int cli_parse_numbers(const char *s, double *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char *end;
        errno = 0;
        v[i] = strtod(s, &end);
        if (end == s || errno || (i + 1 < n && *end != ',') || (i + 1 == n && *end))
            return -1;
        s = end + 1;
    }
    return 0;
}

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* With stderr not a terminal (a batch job's log) the bar becomes a log line
 * every CLI_PROGRESS_LOG_S seconds. */
#define CLI_PROGRESS_LOG_S 5.0

void cli_progress_begin(cli_progress *pr, const cli_parsed *p, const char *label)
{
    memset(pr, 0, sizeof *pr);
    pr->label = label;
    pr->t0 = cli_now();
    pr->enabled = !p->common.quiet;
    pr->log = !isatty(STDERR_FILENO);
}

/* "label: 42.0% done, 12.3 s elapsed, about 17.0 s left" */
static void progress_log_line(cli_progress *pr, double now, double fraction,
                              const char *extra)
{
    double el = now - pr->t0;
    fprintf(stderr, "%s: %.1f%% done, %.1f s elapsed", pr->label, 100.0 * fraction, el);
    if (fraction > 0.0 && fraction < 1.0)
        fprintf(stderr, ", about %.1f s left", el * (1.0 - fraction) / fraction);
    fprintf(stderr, "%s%s\n", extra ? "; " : "", extra ? extra : "");
    fflush(stderr);
}

void cli_progress_update(cli_progress *pr, double fraction, const char *extra)
{
    if (!pr->enabled)
        return;
    double now = cli_now();
    if (fraction < 0)
        fraction = 0;
    if (fraction > 1)
        fraction = 1;
    if (pr->log) {
        if (now - (pr->shown ? pr->last : pr->t0) < CLI_PROGRESS_LOG_S)
            return;
        pr->last = now;
        pr->shown = 1;
        progress_log_line(pr, now, fraction, extra);
        return;
    }
    /* Only for jobs longer than a second, and at most 10 redraws a second. */
    if (now - pr->t0 < 1.0 || (pr->shown && now - pr->last < 0.1 && fraction < 1.0))
        return;
    pr->last = now;
    pr->shown = 1;
    const int width = 30;
    int fill = (int)(fraction * width + 0.5);
    char bar[64];
    for (int i = 0; i < width; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[width] = '\0';
    double el = now - pr->t0;
    double eta = fraction > 0.0 ? el * (1.0 - fraction) / fraction : 0.0;
    fprintf(stderr, "\r%s [%s] %5.1f%%  %.1fs elapsed, %.1fs left%s%s\033[K", pr->label,
            bar, 100.0 * fraction, el, eta, extra ? "  " : "", extra ? extra : "");
    fflush(stderr);
}

void cli_progress_end(cli_progress *pr)
{
    if (!pr->shown)
        return;
    if (pr->log) {
        progress_log_line(pr, cli_now(), 1.0, NULL);
        return;
    }
    cli_progress_update(pr, 1.0, NULL);
    fputc('\n', stderr);
}

void cli_quiet_stdout(const cli_parsed *p)
{
    /* --quiet: nothing but errors, which go to stderr; the summaries and
     * tables a command prints on stdout are dropped in one place. */
    if (p->common.quiet)
        (void)freopen("/dev/null", "w", stdout);
}

cJSON *cli_provenance_new(const cli_parsed *p)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "vbt_version", vbt_version());
    cJSON_AddStringToObject(root, "tool", p->cmd->name);
    cJSON *cmd = cJSON_AddArrayToObject(root, "command");
    for (int i = 0; i < p->argc; i++)
        cJSON_AddItemToArray(cmd, cJSON_CreateString(vbt_path_public(p->argv[i])));
    cJSON_AddObjectToObject(root, "inputs");
    return root;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A directory input (a TVB connectome folder) is recorded file by file. */
static int hash_dir(cJSON *item, const char *path, char *err, size_t errlen)
{
    DIR *d = opendir(path);
    if (!d) {
        snprintf(err, errlen, "'%s': %s", path, strerror(errno));
        return -1;
    }
    char *names[1024];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 1024)
        if (e->d_name[0] != '.')
            names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, n, sizeof names[0], cmp_str);
    cJSON *files = cJSON_AddObjectToObject(item, "files");
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        char fp[4096], hex[65];
        struct stat st;
        vbt_msg msg;
        snprintf(fp, sizeof fp, "%s/%s", path, names[i]);
        if (rc == 0 && stat(fp, &st) == 0 && S_ISREG(st.st_mode)) {
            if (vbt_sha256_file(fp, hex, &msg) != VBT_OK) {
                snprintf(err, errlen, "%s", msg.text);
                rc = -1;
            } else {
                cJSON_AddStringToObject(files, names[i], hex);
            }
        }
        free(names[i]);
    }
    return rc;
}

int cli_provenance_add_input(cJSON *prov, const char *role, const char *path,
                             char *err, size_t errlen)
{
    struct stat st;
    int is_dir = stat(path, &st) == 0 && S_ISDIR(st.st_mode);
    char hex[65];
    vbt_msg msg;
    if (!is_dir && vbt_sha256_file(path, hex, &msg) != VBT_OK) {
        snprintf(err, errlen, "%s", msg.text);
        return -1;
    }
    cJSON *inputs = cJSON_GetObjectItemCaseSensitive(prov, "inputs");
    cJSON *item = cJSON_CreateObject();
    cJSON_AddStringToObject(item, "path", vbt_path_public(path));
    if (is_dir) {
        if (hash_dir(item, path, err, errlen)) {
            cJSON_Delete(item);
            return -1;
        }
    } else {
        cJSON_AddStringToObject(item, "sha256", hex);
    }
    cJSON_AddItemToObject(inputs, role, item);
    return 0;
}

int cli_write_json(vbt_outdir *od, const char *name, const cJSON *j, vbt_msg *msg)
{
    char path[4096];
    char *text = cJSON_Print(j);
    if (!text) {
        snprintf(msg->text, sizeof msg->text, "out of memory writing %s", name);
        return -1;
    }
    size_t len = strlen(text);
    text[len] = '\n'; /* over the NUL: written by length */
    int st = 0;
    if (vbt_outdir_file(od, name, path, sizeof path)) {
        snprintf(msg->text, sizeof msg->text, "output path of %s too long", name);
        st = -1;
    } else if (vbt_file_write_atomic(path, text, len + 1, 0, msg)) {
        st = -1;
    }
    free(text);
    return st;
}

int cli_write_text(vbt_outdir *od, const char *name, vbt_textbuf *b, vbt_msg *msg)
{
    char path[4096];
    int st = 0;
    if (b->oom) {
        snprintf(msg->text, sizeof msg->text, "out of memory writing %s", name);
        st = -1;
    } else if (vbt_outdir_file(od, name, path, sizeof path)) {
        snprintf(msg->text, sizeof msg->text, "output path of %s too long", name);
        st = -1;
    } else if (vbt_textbuf_write(b, path, 0, msg)) {
        st = -1;
    }
    vbt_textbuf_free(b);
    return st;
}

/* cx_cli.c -- helpers of the connectomes/ commands. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cx_cli.h"
#include "vbt.h"
#include "vbt_contacts.h"

int cx_cli_check_outputs(const cli_parsed *p, const char *const *paths, size_t n)
{
    struct stat st;
    for (size_t i = 0; i < n; i++)
        if (!p->common.force && lstat(paths[i], &st) == 0) {
            cli_error(p, "'%s' exists (use --force to overwrite)", paths[i]);
            return -1;
        }
    return 0;
}

int cx_cli_add_input(const cli_parsed *p, cJSON *prov, const char *role, const char *path)
{
    struct stat st;
    char err[1200];
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        cJSON *inputs = cJSON_GetObjectItemCaseSensitive(prov, "inputs");
        cJSON *item = cJSON_AddObjectToObject(inputs, role);
        cJSON_AddStringToObject(item, "path", path);
        cJSON_AddStringToObject(item, "sha256", "(directory)");
        return 0;
    }
    if (cli_provenance_add_input(prov, role, path, err, sizeof err)) {
        cli_error(p, "%s", err);
        return -1;
    }
    return 0;
}

int cx_cli_write_json(const cli_parsed *p, const char *path, const cJSON *doc, int overwrite)
{
    vbt_msg msg;
    char *text = cJSON_Print(doc);
    if (!text) {
        cli_error(p, "out of memory");
        return -1;
    }
    size_t len = strlen(text);
    char *buf = realloc(text, len + 2);
    if (!buf) {
        free(text);
        cli_error(p, "out of memory");
        return -1;
    }
    buf[len] = '\n';
    int rc = vbt_file_write_atomic(path, buf, len + 1, overwrite, &msg);
    free(buf);
    if (rc) {
        cli_error(p, "%s", msg.text);
        return -1;
    }
    return 0;
}

void cx_cli_sibling(const char *path, const char *ext, char *buf, size_t n)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    size_t keep = dot && dot != base ? (size_t)(dot - path) : strlen(path);
    snprintf(buf, n, "%.*s%s", (int)keep, path, ext);
}

int cx_cli_check_space(const cli_parsed *p, const char *contacts_path, const char *space,
                       const char *volume_path, const char *vspace, int forced)
{
    if (vbt_space_compatible(space, vspace) != 0 || forced)
        return 0;
    cli_error(p, "'%s': contacts in %s space but '%s' is a %s volume (different coordinate "
              "systems; --force-space to go on anyway)", contacts_path, space, volume_path,
              vspace);
    return -1;
}

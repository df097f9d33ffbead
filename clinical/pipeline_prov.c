/* pipeline_prov.c -- the provenance record each step writes beside its
 * outputs (run.json, GAIN.json): the vbt version, the step as the vbt
 * command it is equivalent to, and every input with its SHA-256, in the
 * layout the commands write.  Paths are recorded as given: the pipeline
 * hands its steps paths relative to the patient and output folders
 * (vbt__pipe_shown_path), never the folders' names or absolute paths. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pipeline_internal.h"

cJSON *vbt__pipe_prov_new(const char *tool, int argc, char *const *argv)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "vbt_version", vbt_version());
    cJSON_AddStringToObject(root, "tool", tool);
    cJSON *cmd = cJSON_AddArrayToObject(root, "command");
    for (int i = 0; i < argc; i++)
        cJSON_AddItemToArray(cmd, cJSON_CreateString(vbt_path_public(argv[i])));
    cJSON_AddObjectToObject(root, "inputs");
    return root;
}

int vbt__pipe_prov_add_input(cJSON *prov, const char *role, const char *path,
                             const char *dir_note, vbt_msg *msg)
{
    struct stat st;
    cJSON *inputs = cJSON_GetObjectItemCaseSensitive(prov, "inputs");
    cJSON *item = cJSON_CreateObject();
    cJSON_AddStringToObject(item, "path", vbt_path_public(path));
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        cJSON_AddStringToObject(item, "sha256", dir_note);
    } else {
        char hex[65];
        int rc = vbt_sha256_file(path, hex, msg);
        if (rc) {
            cJSON_Delete(item);
            return rc;
        }
        cJSON_AddStringToObject(item, "sha256", hex);
    }
    cJSON_AddItemToObject(inputs, role, item);
    return VBT_OK;
}

/* path without the folder prefix dir ("dir/a/b" -> "a/b", "dir" -> "."),
 * or NULL when path is not inside dir. */
static const char *strip_dir(const char *path, const char *dir)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    if (!n || strncmp(path, dir, n))
        return NULL;
    if (!path[n])
        return ".";
    if (path[n] != '/')
        return NULL;
    while (path[n] == '/')
        n++;
    return path[n] ? path + n : ".";
}

const char *vbt__pipe_shown_path(const char *path, const char *patient_dir, const char *out_dir)
{
    const char *s;
    if (out_dir && ((s = strip_dir(path, out_dir)) ||
                    (s = strip_dir(path, vbt_path_public(out_dir)))))
        return s;
    if (patient_dir && ((s = strip_dir(path, patient_dir)) ||
                        (s = strip_dir(path, vbt_path_public(patient_dir)))))
        return s;
    return vbt_path_public(path);
}

/* Every string under j shown, "absolute_path" members dropped; 1 when
 * anything changed. */
static int scrub(cJSON *j, const char *patient_dir, const char *out_dir)
{
    int changed = 0;
    cJSON *c = j ? j->child : NULL;
    while (c) {
        cJSON *next = c->next;
        if (c->string && !strcmp(c->string, "absolute_path")) {
            cJSON_Delete(cJSON_DetachItemViaPointer(j, c));
            changed = 1;
        } else if (cJSON_IsString(c)) {
            const char *s = vbt__pipe_shown_path(c->valuestring, patient_dir, out_dir);
            cJSON *n;
            if (s != c->valuestring && (n = cJSON_CreateString(s))) {
                if (c->string)
                    cJSON_ReplaceItemInObjectCaseSensitive(j, c->string, n);
                else
                    cJSON_ReplaceItemViaPointer(j, c, n);
                changed = 1;
            }
        } else {
            changed |= scrub(c, patient_dir, out_dir);
        }
        c = next;
    }
    return changed;
}

int vbt__pipe_scrub_json(const char *path, const char *patient_dir, const char *out_dir,
                         vbt_msg *msg)
{
    char *text = NULL;
    size_t len = 0;
    struct stat st;
    if (stat(path, &st) || !S_ISREG(st.st_mode))
        return VBT_OK;
    int rc = vbt_file_read_all(path, &text, &len, 0, msg);
    if (rc)
        return rc;
    cJSON *j = cJSON_ParseWithLength(text, len);
    free(text);
    text = NULL;
    if (!j)
        return vbt__fail(msg, VBT_EFORMAT, "'%s': not JSON",
                         vbt__pipe_shown_path(path, patient_dir, out_dir));
    if (scrub(j, patient_dir, out_dir)) {
        if (!(text = cJSON_Print(j))) {
            rc = vbt__fail(msg, VBT_ENOMEM, "out of memory");
        } else {
            len = strlen(text);
            text[len] = '\n'; /* over the NUL: written by length */
            rc = vbt_file_write_atomic(path, text, len + 1, 1, msg);
        }
    }
    free(text);
    cJSON_Delete(j);
    return rc;
}

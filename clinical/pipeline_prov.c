/* pipeline_prov.c -- the provenance record each step writes beside its
 * outputs (run.json, GAIN.json): the vbt version, the step as the vbt
 * command it is equivalent to, and every input with its SHA-256, in the
 * layout the commands write. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "pipeline_internal.h"

cJSON *vbt__pipe_prov_new(const char *tool, int argc, char *const *argv)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "vbt_version", vbt_version());
    cJSON_AddStringToObject(root, "tool", tool);
    cJSON *cmd = cJSON_AddArrayToObject(root, "command");
    for (int i = 0; i < argc; i++)
        cJSON_AddItemToArray(cmd, cJSON_CreateString(argv[i]));
    cJSON_AddObjectToObject(root, "inputs");
    return root;
}

int vbt__pipe_prov_add_input(cJSON *prov, const char *role, const char *path,
                             const char *dir_note, vbt_msg *msg)
{
    struct stat st;
    cJSON *inputs = cJSON_GetObjectItemCaseSensitive(prov, "inputs");
    cJSON *item = cJSON_CreateObject();
    cJSON_AddStringToObject(item, "path", path);
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        cJSON_AddStringToObject(item, "sha256", dir_note);
    } else {
        char hex[65];
        int rc = vbt_sha256_file(path, hex, msg);
        if (rc) {
            cJSON_Delete(item);
            return rc;
        }
        char *abs = realpath(path, NULL);
        if (abs) {
            cJSON_AddStringToObject(item, "absolute_path", abs);
            free(abs);
        }
        cJSON_AddStringToObject(item, "sha256", hex);
    }
    cJSON_AddItemToObject(inputs, role, item);
    return VBT_OK;
}

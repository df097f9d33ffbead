/* cx_cli.h -- helpers shared by the connectomes/ commands of the vbt CLI
 * (cmd_connectome.c, cmd_contacts.c, cmd_gain.c); part of the executable,
 * not of libvbt. */
#ifndef VBT_CX_CLI_H
#define VBT_CX_CLI_H

#include <stddef.h>
#include <cJSON.h>

#include "cli.h"

/* Refuse (one error line, return -1) when any of the n outputs exists and
 * --force was not given, so that no output is written before all can be. */
int cx_cli_check_outputs(const cli_parsed *p, const char *const *paths, size_t n);

/* Record an input in the provenance: SHA-256 for a file, the path alone for
 * a directory. */
int cx_cli_add_input(const cli_parsed *p, cJSON *prov, const char *role, const char *path);

/* Write a JSON document atomically (pretty-printed, trailing newline);
 * an existing file is replaced only when overwrite is set.  -1 after
 * printing the error. */
int cx_cli_write_json(const cli_parsed *p, const char *path, const cJSON *doc, int overwrite);

/* path with its extension (the part after the last '.' of the base name)
 * replaced by ext (".json"); written into buf. */
void cx_cli_sibling(const char *path, const char *ext, char *buf, size_t n);

/* Check that contacts in `space` (BIDS name, may be empty) and a volume of
 * NIfTI space `vspace` may be compared; prints the error and returns -1
 * unless forced. */
int cx_cli_check_space(const cli_parsed *p, const char *contacts_path, const char *space,
                       const char *volume_path, const char *vspace, int forced);

#endif

/* cmd_contacts.c -- `vbt contacts localize|list CONTACTS ...`. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cx_cli.h"
#include "vbt.h"
#include "vbt_contacts.h"
#include "vbt_parcellation.h"

static const cli_argument args[] = {
    {"ACTION", CLI_TEXT, "localize: assign each contact to a region and write a table; "
                         "list: print the electrodes, contacts and bipolar pairs"},
    {"CONTACTS", CLI_FILE_IN, "BIDS *_electrodes.tsv (with its *_coordsystem.json) or TVB "
                              "sensor text 'label x y z' (.bz2 accepted)"},
};

static const cli_option opts[] = {
    {.name = "parcellation", .kind = CLI_FILE_IN, .required = 1, .metavar = "VOL",
     .applies = "localize",
     .doc = "label volume, NIfTI .nii or .nii.gz"},
    {.name = "labels", .kind = CLI_FILE_IN, .required = 1, .metavar = "TABLE",
     .applies = "localize",
     .doc = "label table: FreeSurfer LUT, TSV/CSV index,name, or TVB mapping"},
    {.name = "radius", .kind = CLI_FLOAT, .metavar = "MM", .def = "3", .min = 0, .max = 50,
     .applies = "localize",
     .doc = "a contact in an unlabelled voxel takes the nearest labelled voxel "
            "within this distance, else is 'outside'"},
    {.name = "force-space", .kind = CLI_FLAG,
     .applies = "localize",
     .doc = "go on when contacts and volume look like different coordinate "
            "systems"},
    {.name = "output", .short_name = 'o', .kind = CLI_FILE_OUT, .metavar = "TABLE.tsv",
     .required = 1,
     .applies = "localize",
     .doc = "output table; TABLE.json (provenance) is written beside it"},
};

static int list(const cli_parsed *p, const vbt_contacts *c)
{
    vbt_msg msg;
    size_t *pairs = NULL, np = 0;
    printf("# %zu contacts on %zu electrodes; space %s%s\n", c->n, c->n_electrodes,
           c->space[0] ? c->space : "unknown", c->n_skipped ? " (rows without coordinates "
                                                              "skipped)" : "");
    printf("name\telectrode\tnumber\tx\ty\tz\n");
    for (size_t i = 0; i < c->n; i++)
        printf("%s\t%s\t%ld\t%.3f\t%.3f\t%.3f\n", c->labels[i], c->electrodes[c->electrode[i]],
               c->number[i], c->pos[3 * i], c->pos[3 * i + 1], c->pos[3 * i + 2]);
    if (vbt_contacts_bipolar(c, &pairs, &np, &msg) == VBT_OK) {
        printf("# %zu bipolar pairs\n", np);
        for (size_t k = 0; k < np; k++)
            printf("%s-%s\n", c->labels[pairs[2 * k]], c->labels[pairs[2 * k + 1]]);
    }
    free(pairs);
    (void)p;
    return CLI_OK;
}

static int localize(const cli_parsed *p, const vbt_contacts *c)
{
    const char *cpath = p->args[1], *vol = cli_str(p, "parcellation"),
               *lab = cli_str(p, "labels"), *out = cli_str(p, "output");
    char json[4200];
    cx_cli_sibling(out, ".json", json, sizeof json);
    const char *outs[2] = {out, json};
    if (cx_cli_check_outputs(p, outs, 2))
        return CLI_ERROR;
    vbt_msg msg;
    vbt_parcellation *parc = NULL;
    cJSON *prov = NULL;
    vbt_textbuf text = {0};
    long *where = NULL;
    double *dist = NULL;
    int rc = CLI_ERROR;
    if (vbt_parcellation_load(&parc, vol, lab, &msg)) {
        cli_error(p, "%s", msg.text);
        return CLI_ERROR;
    }
    const vbt_region_info *reg = vbt_parcellation_regions(parc);
    size_t nr = vbt_parcellation_n_regions(parc);
    const char *vspace;
    vbt_parcellation_grid(parc, NULL, NULL, NULL, &vspace);
    int forced = cli_flag(p, "force-space");
    if (cx_cli_check_space(p, cpath, c->space, vol, vspace, forced))
        goto out;
    double *cen = malloc(nr * 3 * sizeof *cen);
    if (!cen)
        goto oom;
    for (size_t r = 0; r < nr; r++)
        memcpy(cen + 3 * r, reg[r].centroid_mm, sizeof reg[r].centroid_mm);
    int disjoint = vbt_contacts_disjoint(c, cen, nr, 10.0);
    free(cen);
    if (disjoint && !forced) {
        cli_error(p, "'%s': the contacts and the region centroids of '%s' do not overlap "
                  "(different coordinate systems? --force-space to go on)", cpath, vol);
        goto out;
    }
    double radius = cli_float(p, "radius");
    where = malloc(c->n * sizeof *where);
    dist = malloc(c->n * sizeof *dist);
    size_t n_in = 0, n_near = 0, n_out = 0;
    if (!where || !dist)
        goto oom;
    vbt_textbuf_printf(&text,
                       "name\telectrode\tnumber\tx\ty\tz\tregion_index\tlabel\tregion\themisphere\t"
                       "distance_mm\n");
    for (size_t i = 0; i < c->n; i++) {
        where[i] = vbt_parcellation_locate(parc, c->pos + 3 * i, radius, &dist[i]);
        long k = where[i];
        if (k < 0)
            n_out++;
        else if (dist[i] > 0)
            n_near++;
        else
            n_in++;
        char d[32];
        if (k >= 0)
            snprintf(d, sizeof d, "%.3f", dist[i]);
        vbt_textbuf_printf(
            &text, "%s\t%s\t%ld\t%.3f\t%.3f\t%.3f\t%ld\t%ld\t%s\t%s\t%s\n",
            c->labels[i], c->electrodes[c->electrode[i]], c->number[i], c->pos[3 * i],
            c->pos[3 * i + 1], c->pos[3 * i + 2], k, k >= 0 ? reg[k].label : 0L,
            k >= 0 ? reg[k].name : "outside", k < 0 ? "n/a" : reg[k].hemisphere ? "R" : "L",
            k >= 0 ? d : "n/a");
    }
    if (2 * n_out > c->n && !forced) {
        cli_error(p, "'%s': %zu of %zu contacts lie outside every region of '%s' (different "
                  "coordinate systems? --force-space to write the table anyway)", cpath, n_out,
                  c->n, vol);
        goto out;
    }
    vbt_msg m2;
    if (text.oom)
        goto oom;
    if (vbt_file_write_atomic(out, text.s, text.len, p->common.force, &m2)) {
        cli_error(p, "%s", m2.text);
        goto out;
    }
    prov = cli_provenance_new(p);
    if (cx_cli_add_input(p, prov, "contacts", cpath) ||
        cx_cli_add_input(p, prov, "parcellation", vol) ||
        cx_cli_add_input(p, prov, "labels", lab))
        goto out;
    cJSON *o = cJSON_AddObjectToObject(prov, "localize");
    cJSON_AddStringToObject(o, "contacts_space", c->space);
    cJSON_AddStringToObject(o, "volume_space", vspace);
    cJSON_AddNumberToObject(o, "radius_mm", radius);
    cJSON_AddNumberToObject(o, "n_contacts", (double)c->n);
    cJSON_AddNumberToObject(o, "inside", (double)n_in);
    cJSON_AddNumberToObject(o, "nearest_within_radius", (double)n_near);
    cJSON_AddNumberToObject(o, "outside", (double)n_out);
    cJSON_AddNumberToObject(o, "skipped_without_coordinates", (double)c->n_skipped);
    cJSON_AddStringToObject(o, "table", out);
    if (cx_cli_write_json(p, json, prov, p->common.force))
        goto out;
    cli_info(p, "%zu contacts: %zu inside a region, %zu nearest within %g mm, %zu outside",
             c->n, n_in, n_near, radius, n_out);
    printf("%s %s\n", out, json);
    rc = CLI_OK;
    goto out;
oom:
    cli_error(p, "out of memory");
out:
    cJSON_Delete(prov);
    free(text.s);
    free(where);
    free(dist);
    vbt_parcellation_free(parc);
    return rc;
}

/* Both actions read the contacts first. */
static int with_contacts(const cli_parsed *p,
                         int (*action)(const cli_parsed *, const vbt_contacts *))
{
    vbt_msg msg;
    vbt_contacts *c = NULL;
    if (vbt_contacts_load(&c, p->args[1], &msg)) {
        cli_error(p, "%s", msg.text);
        return CLI_ERROR;
    }
    int rc = action(p, c);
    vbt_contacts_free(c);
    return rc;
}

static int run_localize(const cli_parsed *p)
{
    return with_contacts(p, localize);
}

static int run_list(const cli_parsed *p)
{
    return with_contacts(p, list);
}

static const cli_subcommand actions[] = {
    {"localize", run_localize},
    {"list", run_list},
};

const cli_command cli_cmd_contacts = {
    .name = "contacts",
    .synopsis = "read SEEG contacts; localise them in a parcellation",
    .description =
        "Reads contacts from a BIDS iEEG *_electrodes.tsv (coordinates converted to mm from "
        "the units of its *_coordsystem.json; rows with n/a coordinates skipped) or a TVB "
        "sensor file 'label x y z'. Contacts are grouped into electrodes by label prefix "
        "(the label without trailing digits, so A´12 is contact 12 of A´) and sorted by "
        "number; bipolar pairs join consecutive numbers."
        "\n\n"
        "localize writes TABLE.tsv with, per contact: name, electrode, number, x, y, z, "
        "region index (table order; -1 outside), label value, region name, hemisphere and "
        "the distance to the labelled voxel it took (0 inside, else the nearest labelled voxel "
        "centre within --radius). It is an error, unless --force-space, when the "
        "coordsystem.json space and the NIfTI sform/qform code disagree (a template space "
        "such as IXI549Space or MNI152NLin6 against a scanner-space volume, or the reverse), "
        "when the contacts' bounding box and the region centroids' do not overlap, or when "
        "more than half the contacts fall outside every region.",
    .args = args,
    .n_args = 2,
    .opts = opts,
    .n_opts = sizeof opts / sizeof opts[0],
    .references = NULL,
    .run = cli_run_subcommand,
    .subcommands = actions,
    .n_subcommands = sizeof actions / sizeof actions[0],
};

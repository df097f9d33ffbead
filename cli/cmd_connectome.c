/* cmd_connectome.c -- `vbt connectome build PARC ...` and `vbt connectome info CONN`. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cairo.h>
#include <fontconfig/fontconfig.h>

#include "cli.h"
#include "cx_cli.h"
#include "vbt.h"
#include "vbt_connectome_build.h"
#include "vbt_parcellation.h"

static const cli_argument args[] = {
    {"ACTION", CLI_TEXT, "build: make a connectome from a parcellation; info: summarise a "
                         "connectome"},
    {"INPUT", CLI_FILE_IN, "build: the parcellation volume (NIfTI); info: a TVB connectome "
                           "(zip or directory)"},
};

static const cli_option opts[] = {
    {.name = "labels", .kind = CLI_FILE_IN, .metavar = "TABLE", .required = 1,
     .applies = "build",
     .doc = "label table: FreeSurfer LUT, TSV/CSV index,name, or TVB mapping "
            "'code name region-index'"},
    {.name = "weights", .kind = CLI_FILE_IN, .metavar = "W",
     .applies = "build",
     .doc = "streamline counts, n x n in label-table order (tck2connectome layout: "
            "CSV/TSV/blank-separated text without header, or .npy; nan = missing)"},
    {.name = "lengths", .kind = CLI_FILE_IN, .metavar = "L",
     .applies = "build",
     .doc = "mean streamline lengths in mm, same layout"},
    {.name = "atlas", .kind = CLI_FILE_IN, .metavar = "CONN",
     .applies = "build",
     .doc = "normative TVB connectome used as prior, matched by region name"},
    {.name = "name-map", .kind = CLI_FILE_IN, .metavar = "MAP",
     .applies = "build",
     .doc = "'subject-name atlas-name' pairs for names that differ ('-' = no match)"},
    {.name = "prior", .kind = CLI_TEXT, .metavar = "MODE", .def = "none",
     .choices = "none|fill|blend|only",
     .applies = "build",
     .doc = "fill: atlas where the subject is missing, masked or lesioned; blend: "
            "alpha subject + (1-alpha) atlas; only: atlas weights, no diffusion data"},
    {.name = "alpha", .kind = CLI_FLOAT, .metavar = "A", .def = "0.5", .min = 0, .max = 1,
     .applies = "build",
     .doc = "weight of the subject in --prior blend"},
    {.name = "mask", .kind = CLI_FILE_IN, .metavar = "M",
     .applies = "build",
     .doc = "n x n matrix, non-zero where the subject entry is unreliable"},
    {.name = "lesioned", .kind = CLI_TEXT, .metavar = "NAMES",
     .applies = "build",
     .doc = "comma-separated region names whose rows and columns are unreliable"},
    {.name = "symmetrise", .kind = CLI_FLAG, .applies = "build",
     .doc = "W <- (W + W^T)/2"},
    {.name = "zero-diagonal", .kind = CLI_FLAG, .applies = "build",
     .doc = "remove self-connections"},
    {.name = "normalize", .kind = CLI_TEXT, .metavar = "HOW", .def = "none",
     .choices = "none|max|row-sum|log1p-max", .applies = "build",
     .doc = "weight normalisation"},
    {.name = "tortuosity", .kind = CLI_FLOAT, .metavar = "T", .def = "1.25", .min = 1, .max = 9.99,
     .applies = "build",
     .doc = "tract length = T x centroid distance where neither subject nor atlas "
            "gives one"},
    {.name = "plot", .kind = CLI_FILE_OUT, .metavar = "PICTURE",
     .applies = "build,info",
     .doc = "draw the weight matrix to a .png or .svg"},
    {.name = "json", .kind = CLI_FLAG, .applies = "info",
     .doc = "print the summary as JSON"},
    {.name = "output", .short_name = 'o', .kind = CLI_FILE_OUT, .metavar = "OUT", .required = 1,
     .applies = "build",
     .doc = "TVB connectome: OUT.zip, or a directory; OUT.json (provenance) beside "
            "it"},
};

static cJSON *summary_json(const vbt_connectome *c, const vbt_connectome_summary *s,
                           const size_t *iso)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "regions", (double)s->n);
    cJSON_AddNumberToObject(o, "edges", (double)s->n_edges);
    cJSON_AddNumberToObject(o, "density", s->density);
    cJSON_AddNumberToObject(o, "self_connections", (double)s->n_self);
    cJSON_AddItemToObject(o, "weight_range", cJSON_CreateDoubleArray((double[2]){s->w_min,
                                                                                 s->w_max}, 2));
    cJSON_AddItemToObject(o, "length_range_mm",
                          cJSON_CreateDoubleArray((double[2]){s->l_min, s->l_max}, 2));
    cJSON_AddNumberToObject(o, "asymmetry", s->asymmetry);
    cJSON *a = cJSON_AddArrayToObject(o, "isolated");
    for (size_t k = 0; k < s->n_isolated; k++)
        cJSON_AddItemToArray(a, cJSON_CreateString(c->labels[iso[k]]));
    return o;
}

static int info(const cli_parsed *p)
{
    const char *path = p->args[1], *plot = cli_str(p, "plot");
    vbt_msg msg;
    vbt_connectome *c = NULL;
    vbt_connectome_summary s;
    size_t *iso = NULL;
    if (vbt_connectome_load(&c, path, &msg) || vbt_connectome_summarize(c, &s, &iso, &msg)) {
        cli_error(p, "%s", msg.text);
        vbt_connectome_free(c);
        return CLI_ERROR;
    }
    if (cli_flag(p, "json")) {
        cJSON *o = summary_json(c, &s, iso);
        char *t = cJSON_Print(o);
        printf("%s\n", t ? t : "{}");
        free(t);
        cJSON_Delete(o);
    } else {
        printf("connectome   %s\nregions      %zu\nedges        %zu (density %.4f, %zu "
               "self-connections)\nweights      %.6g .. %.6g (non-zero)\nlengths      %.6g .. "
               "%.6g mm (connected pairs)\nasymmetry    %.4g (||W - W^T|| / ||W||)\nisolated     "
               "%zu",
               path, s.n, s.n_edges, s.density, s.n_self, s.w_min, s.w_max, s.l_min, s.l_max,
               s.asymmetry, s.n_isolated);
        for (size_t k = 0; k < s.n_isolated; k++)
            printf("%s%s", k ? ", " : ": ", c->labels[iso[k]]);
        printf("\n");
    }
    int rc = CLI_OK;
    if (plot && vbt_connectome_plot(c, plot, path, p->common.force, &msg)) {
        cli_error(p, "%s", msg.text);
        rc = CLI_ERROR;
    }
    free(iso);
    vbt_connectome_free(c);
    if (plot) { /* release font caches, so that leak checkers stay quiet at exit */
        cairo_debug_reset_static_data();
        FcFini();
    }
    return rc;
}

/* Parse the comma-separated --lesioned names into flags. */
static int lesion_flags(const cli_parsed *p, const vbt_parcellation *parc, int *flags)
{
    const char *s = cli_str(p, "lesioned");
    size_t n = vbt_parcellation_n_regions(parc);
    const vbt_region_info *reg = vbt_parcellation_regions(parc);
    while (s && *s) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        size_t r = 0;
        for (; r < n; r++)
            if (strlen(reg[r].name) == len && !strncmp(reg[r].name, s, len))
                break;
        if (r == n) {
            cli_error(p, "--lesioned: '%.*s' is not a region of '%s'", (int)len, s,
                      cli_str(p, "labels"));
            return -1;
        }
        flags[r] = 1;
        s = e ? e + 1 : NULL;
    }
    return 0;
}

static void add_sources(cJSON *o, const vbt_build_report *r, const unsigned char *src,
                        const size_t *counts, const vbt_connectome *c, int lengths)
{
    cJSON *cnt = cJSON_AddObjectToObject(o, "counts");
    for (int k = 0; k < VBT_SRC_COUNT; k++)
        if (counts[k])
            cJSON_AddNumberToObject(cnt, vbt_source_name(k), (double)counts[k]);
    /* Entries not from the subject, as [target, source] index pairs per origin. */
    for (int k = VBT_SRC_ATLAS; k < VBT_SRC_COUNT; k++) {
        if (!counts[k])
            continue;
        cJSON *list = cJSON_AddArrayToObject(o, vbt_source_name(k));
        for (size_t i = 0; i < r->n; i++)
            for (size_t j = 0; j < r->n; j++) {
                size_t q = i * r->n + j;
                if (src[q] == k && c->weights[q] > 0 && (!lengths || i != j))
                    cJSON_AddItemToArray(list, cJSON_CreateIntArray((int[2]){(int)i, (int)j},
                                                                    2));
            }
    }
}

static int build(const cli_parsed *p)
{
    const char *vol = p->args[1], *lab = cli_str(p, "labels"), *out = cli_str(p, "output"),
               *wpath = cli_str(p, "weights"), *lpath = cli_str(p, "lengths"),
               *apath = cli_str(p, "atlas"), *plot = cli_str(p, "plot");
    vbt_build_opts opt;
    vbt_build_opts_default(&opt);
    vbt_prior_mode_parse(cli_str(p, "prior"), &opt.prior);
    vbt_weight_norm_parse(cli_str(p, "normalize"), &opt.normalize);
    opt.alpha = cli_float(p, "alpha");
    opt.tortuosity = cli_float(p, "tortuosity");
    opt.symmetrise = cli_flag(p, "symmetrise");
    opt.zero_diagonal = cli_flag(p, "zero-diagonal");
    if (opt.prior != VBT_PRIOR_NONE && !apath) {
        fprintf(stderr, "vbt connectome: --prior %s needs --atlas\n", cli_str(p, "prior"));
        return CLI_USAGE;
    }
    if (opt.prior != VBT_PRIOR_ONLY && !wpath) {
        fprintf(stderr, "vbt connectome: build needs --weights, or --prior only with --atlas\n");
        return CLI_USAGE;
    }
    char json[4200];
    cx_cli_sibling(out, ".json", json, sizeof json);
    const char *outs[3] = {out, json, plot};
    if (cx_cli_check_outputs(p, outs, plot ? 3 : 2))
        return CLI_ERROR;

    vbt_msg msg;
    vbt_parcellation *parc = NULL;
    vbt_connectome *atlas = NULL, *c = NULL;
    double *W = NULL, *L = NULL, *M = NULL;
    unsigned char *mask = NULL;
    int *les = NULL;
    char **names = NULL;
    vbt_build_report rep = {0};
    cJSON *prov = NULL;
    int rc = CLI_ERROR;
    size_t n = 0;
    double t0 = cli_now();

    if (vbt_parcellation_load(&parc, vol, lab, &msg))
        goto fail_msg;
    n = vbt_parcellation_n_regions(parc);
    if ((wpath && vbt_matrix_load(wpath, n, &W, NULL, &msg)) ||
        (lpath && vbt_matrix_load(lpath, n, &L, NULL, &msg)) ||
        (apath && vbt_connectome_load(&atlas, apath, &msg)) ||
        (cli_str(p, "name-map") && vbt_name_map_load(cli_str(p, "name-map"), parc, &names, &msg)))
        goto fail_msg;
    if (cli_str(p, "mask")) {
        if (vbt_matrix_load(cli_str(p, "mask"), n, &M, NULL, &msg))
            goto fail_msg;
        mask = malloc(n * n);
        if (!mask)
            goto oom;
        for (size_t k = 0; k < n * n; k++)
            mask[k] = M[k] != 0;
        opt.mask = mask;
    }
    les = calloc(n, sizeof *les);
    if (!les)
        goto oom;
    if (lesion_flags(p, parc, les))
        goto fail;
    opt.lesioned = les;
    if (vbt_connectome_build(&c, parc, W, L, atlas, names, &opt, &rep, &msg))
        goto fail_msg;
    double build_s = cli_now() - t0;
    if (vbt_connectome_save(c, out, p->common.force, &msg))
        goto fail_msg;
    if (plot && vbt_connectome_plot(c, plot, out, p->common.force, &msg))
        goto fail_msg;

    prov = cli_provenance_new(p);
    if (cx_cli_add_input(p, prov, "parcellation", vol) ||
        cx_cli_add_input(p, prov, "labels", lab) ||
        (wpath && cx_cli_add_input(p, prov, "weights", wpath)) ||
        (lpath && cx_cli_add_input(p, prov, "lengths", lpath)) ||
        (apath && cx_cli_add_input(p, prov, "atlas", apath)) ||
        (cli_str(p, "name-map") && cx_cli_add_input(p, prov, "name_map", cli_str(p, "name-map"))) ||
        (cli_str(p, "mask") && cx_cli_add_input(p, prov, "mask", cli_str(p, "mask"))))
        goto fail;
    cJSON *o = cJSON_AddObjectToObject(prov, "options");
    cJSON_AddStringToObject(o, "prior", cli_str(p, "prior"));
    cJSON_AddNumberToObject(o, "alpha", opt.alpha);
    cJSON_AddStringToObject(o, "normalize", cli_str(p, "normalize"));
    cJSON_AddBoolToObject(o, "symmetrise", opt.symmetrise);
    cJSON_AddBoolToObject(o, "zero_diagonal", opt.zero_diagonal);
    cJSON_AddNumberToObject(o, "tortuosity", opt.tortuosity);
    cJSON *lesl = cJSON_AddArrayToObject(o, "lesioned");
    const vbt_region_info *reg = vbt_parcellation_regions(parc);
    for (size_t i = 0; i < n; i++)
        if (les[i])
            cJSON_AddItemToArray(lesl, cJSON_CreateString(reg[i].name));
    cJSON *pr = cJSON_AddObjectToObject(prov, "parcellation");
    const char *src, *space;
    size_t dims[3];
    vbt_parcellation_grid(parc, dims, NULL, &src, &space);
    cJSON_AddItemToObject(pr, "dims", cJSON_CreateDoubleArray((double[3]){(double)dims[0],
                          (double)dims[1], (double)dims[2]}, 3));
    cJSON_AddStringToObject(pr, "affine", src);
    cJSON_AddStringToObject(pr, "space", space);
    cJSON_AddNumberToObject(pr, "voxel_mm3", vbt_parcellation_voxel_mm3(parc));
    const long *ml;
    size_t nm = vbt_parcellation_missing(parc, &ml);
    cJSON_AddItemToObject(pr, "labels_absent_from_volume", cJSON_CreateArray());
    for (size_t k = 0; k < nm; k++)
        cJSON_AddItemToArray(cJSON_GetObjectItem(pr, "labels_absent_from_volume"),
                             cJSON_CreateNumber((double)ml[k]));
    const size_t *uv;
    size_t nu = vbt_parcellation_unlisted(parc, &ml, &uv);
    cJSON *ul = cJSON_AddObjectToObject(pr, "labels_absent_from_table");
    for (size_t k = 0; k < nu; k++) {
        char key[32];
        snprintf(key, sizeof key, "%ld", ml[k]);
        cJSON_AddNumberToObject(ul, key, (double)uv[k]);
    }
    cJSON *notes = cJSON_AddArrayToObject(pr, "notes");
    for (size_t k = 0; k < vbt_parcellation_n_notes(parc); k++)
        cJSON_AddItemToArray(notes, cJSON_CreateString(vbt_parcellation_note(parc, k)));
    cJSON *regs = cJSON_AddArrayToObject(pr, "regions");
    for (size_t i = 0; i < n; i++) {
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "name", c->labels[i]);
        cJSON_AddNumberToObject(r, "label", (double)reg[i].label);
        cJSON_AddNumberToObject(r, "voxels", (double)reg[i].n_voxels);
        cJSON_AddNumberToObject(r, "volume_mm3", reg[i].volume_mm3);
        cJSON_AddStringToObject(r, "atlas_match", rep.atlas_index[i] >= 0
                                ? atlas->labels[rep.atlas_index[i]] : "");
        cJSON_AddItemToArray(regs, r);
    }
    cJSON *sources = cJSON_AddObjectToObject(prov, "sources");
    cJSON_AddStringToObject(sources, "pairs", "[target, source] region indices, 0-based");
    cJSON_AddBoolToObject(sources, "subject_upper_triangular_mirrored", rep.mirrored);
    add_sources(cJSON_AddObjectToObject(sources, "weights"), &rep, rep.weight_src, rep.n_weight,
                c, 0);
    add_sources(cJSON_AddObjectToObject(sources, "lengths"), &rep, rep.length_src,
                rep.n_length, c, 1);
    vbt_connectome_summary s;
    size_t *iso = NULL;
    if (vbt_connectome_summarize(c, &s, &iso, &msg))
        goto fail_msg;
    cJSON_AddItemToObject(prov, "summary", summary_json(c, &s, iso));
    free(iso);
    cJSON_AddNumberToObject(cJSON_AddObjectToObject(prov, "timing"), "build_s", build_s);
    if (cx_cli_write_json(p, json, prov, p->common.force))
        goto fail;
    cli_info(p, "%zu regions, %zu edges (weights: %zu subject, %zu atlas, %zu blend; lengths: "
             "%zu subject, %zu atlas, %zu geometry) in %.3f s",
             n, s.n_edges, rep.n_weight[VBT_SRC_SUBJECT], rep.n_weight[VBT_SRC_ATLAS],
             rep.n_weight[VBT_SRC_BLEND], rep.n_length[VBT_SRC_SUBJECT],
             rep.n_length[VBT_SRC_ATLAS], rep.n_length[VBT_SRC_GEOMETRY], build_s);
    for (size_t k = 0; p->common.verbose && k < vbt_parcellation_n_notes(parc); k++)
        cli_info(p, "note: %s", vbt_parcellation_note(parc, k));
    printf("%s %s\n", out, json);
    rc = CLI_OK;
    goto out;
oom:
    cli_error(p, "out of memory");
    goto fail;
fail_msg:
    cli_error(p, "%s", msg.text);
fail:
out:
    cJSON_Delete(prov);
    vbt_build_report_clear(&rep);
    vbt_name_map_free(names, n);
    free(W);
    free(L);
    free(M);
    free(mask);
    free(les);
    vbt_connectome_free(c);
    vbt_connectome_free(atlas);
    vbt_parcellation_free(parc);
    if (plot) {
        cairo_debug_reset_static_data();
        FcFini();
    }
    return rc;
}

static const cli_subcommand actions[] = {
    {"build", build},
    {"info", info},
};

const cli_command cli_cmd_connectome = {
    .name = "connectome",
    .synopsis = "build a subject connectome (parcellation + tractography + atlas prior); "
                "summarise one",
    .description =
        "build: regions from the parcellation volume and its label table (centroids through "
        "the sform, else qform; volumes; hemisphere and cortical flags from the names), "
        "weights from --weights (tck2connectome layout, node order = label-table order; an "
        "upper-triangular matrix is mirrored), lengths from --lengths. --prior combines them "
        "with a normative --atlas matched by region name (--name-map where names differ): "
        "fill uses the atlas (rescaled to the subject's largest weight) only where the "
        "subject entry is nan, masked (--mask) or in a --lesioned row or column; blend "
        "gives alpha norm(subject) + (1 - alpha) norm(atlas) (both max-normalised when "
        "--normalize none, then scaled back to the subject's largest weight); only uses the "
        "atlas weights. A length missing for a pair comes from the atlas, scaled by the "
        "ratio of the subject's to the atlas's centroid distance, or else is --tortuosity "
        "times the centroid distance. Writes the TVB connectivity that 'vbt simulate' reads "
        "(OUT.zip or directory OUT) and OUT.json: inputs with SHA-256, options, the "
        "regions, labels missing from the volume or the table, and for weights and lengths "
        "the counts and [target, source] lists of entries that came from the atlas, a "
        "blend or geometry."
        "\n\n"
        "info: regions, edges and density, weight and length ranges, asymmetry "
        "||W - W^T||/||W||, isolated regions; --plot draws the weight matrix.",
    .args = args,
    .n_args = 2,
    .opts = opts,
    .n_opts = sizeof opts / sizeof opts[0],
    .references = NULL,
    .run = cli_run_subcommand,
    .subcommands = actions,
    .n_subcommands = sizeof actions / sizeof actions[0],
};

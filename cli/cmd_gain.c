/* cmd_gain.c -- `vbt gain --contacts FILE --method M ... -o GAIN.npy`. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "strbuf.h"
#include "cx_cli.h"
#include "vbt.h"
#include "vbt_connectome_build.h"
#include "vbt_contacts.h"
#include "vbt_gain.h"
#include "vbt_parcellation.h"

static const cli_option opts[] = {
    {.name = "contacts", .kind = CLI_FILE_IN, .metavar = "FILE", .required = 1,
     .doc = "sensors: BIDS *_electrodes.tsv (with its *_coordsystem.json) or TVB 'label x y "
            "z' text (.bz2 accepted)"},
    {.name = "method", .kind = CLI_TEXT, .metavar = "M", .choices = "centre|volume|dipole|eeg",
     .required = 1,
     .doc = "centre: 1/(4 pi |s-c|^2) at region centres (--connectome, or --parcellation and "
            "--labels); volume: sum over voxels (--parcellation, --labels; with --connectome, "
            "in the connectome's columns); dipole: surface "
            "dipoles (--surface, --region-mapping); eeg: dipoles at region centres seen from "
            "sensors moved onto a sphere (--connectome)"},
    {.name = "connectome", .kind = CLI_FILE_IN, .metavar = "CONN",
     .doc = "TVB connectome (zip or directory): centres, labels and orientations"},
    {.name = "parcellation", .kind = CLI_FILE_IN, .metavar = "VOL",
     .doc = "label volume (NIfTI .nii/.nii.gz)"},
    {.name = "labels", .kind = CLI_FILE_IN, .metavar = "TABLE",
     .doc = "label table of --parcellation (FreeSurfer LUT, TSV/CSV index,name, or TVB mapping)"},
    {.name = "name-map", .kind = CLI_FILE_IN, .metavar = "MAP",
     .doc = "volume with --connectome: 'parcellation-name connectome-name' per line ('-' = "
            "none) where the names differ; unnamed regions match by name"},
    {.name = "surface", .kind = CLI_FILE_IN, .metavar = "SURF",
     .doc = "TVB surface zip or directory (vertices.txt, triangles.txt, optional "
            "vertex_normals.txt or normals.txt)"},
    {.name = "region-mapping", .kind = CLI_FILE_IN, .metavar = "MAP",
     .doc = "one region index per surface vertex; regions are named by --connectome when "
            "given"},
    {.name = "bipolar", .kind = CLI_FLAG,
     .doc = "rows for bipolar pairs of consecutive contacts (A1-A2 = A1 minus A2)"},
    {.name = "normalize", .kind = CLI_TEXT, .metavar = "HOW", .def = "none",
     .choices = "none|row-max|row-sum",
     .doc = "divide each row by its largest |value| or by the sum of its |values|"},
    {.name = "min-distance", .kind = CLI_FLOAT, .metavar = "MM", .def = "1.0", .min = 1e-3,
     .max = 100, .doc = "smallest source-sensor distance; closer sources count as this far"},
    {.name = "force-space", .kind = CLI_FLAG,
     .doc = "go on when contacts and volume declare different coordinate systems"},
    {.name = "output", .short_name = 'o', .kind = CLI_FILE_OUT, .metavar = "GAIN.npy",
     .required = 1,
     .doc = "gain matrix, float64 [sensor, region]; GAIN.tsv (sensor names in row order) "
            "and GAIN.json (provenance) are written beside it"},
};

static const char *const refs[] = {
    "Jirsa VK et al. (2017) The Virtual Epileptic Patient: individualized whole-brain models "
    "of epilepsy spread. NeuroImage 145:377-388.",
    "Sarvas J (1987) Basic mathematical and electromagnetic concepts of the biomagnetic "
    "inverse problem. Phys Med Biol 32:11-22.",
    NULL,
};

static int need(const cli_parsed *p, const char *opt, const char *method)
{
    if (cli_str(p, opt))
        return 0;
    fprintf(stderr, "vbt gain: --method %s needs --%s (see 'vbt gain --help')\n", method, opt);
    return -1;
}

static int run(const cli_parsed *p)
{
    const char *cpath = cli_str(p, "contacts"), *method = cli_str(p, "method"),
               *out = cli_str(p, "output");
    vbt_msg msg;
    vbt_contacts *ct = NULL;
    vbt_connectome *conn = NULL;
    vbt_parcellation *parc = NULL;
    vbt_surface *surf = NULL;
    int *map = NULL;
    long *col = NULL;
    char **alias = NULL;
    unsigned char *fb = NULL;
    double *G = NULL, *B = NULL;
    size_t *pairs = NULL, npairs = 0, nr = 0;
    cJSON *prov = NULL;
    int rc = CLI_ERROR;
    char tsv[4200], json[4200];
    char (*names)[VBT_LABEL_MAX] = NULL;
    const double dmin = cli_float(p, "min-distance");

    int m_centre = !strcmp(method, "centre"), m_volume = !strcmp(method, "volume"),
        m_dipole = !strcmp(method, "dipole"), m_eeg = !strcmp(method, "eeg");
    if ((m_centre && !cli_str(p, "connectome") &&
         (need(p, "parcellation", method) || need(p, "labels", method))) ||
        (m_volume && (need(p, "parcellation", method) || need(p, "labels", method))) ||
        (m_dipole && (need(p, "surface", method) || need(p, "region-mapping", method))) ||
        (m_eeg && need(p, "connectome", method)))
        return CLI_USAGE;
    size_t olen = strlen(out);
    if (olen < 5 || strcmp(out + olen - 4, ".npy") != 0) {
        fprintf(stderr, "vbt gain: -o must name a .npy file, got '%s'\n", out);
        return CLI_USAGE;
    }
    cx_cli_sibling(out, ".tsv", tsv, sizeof tsv);
    cx_cli_sibling(out, ".json", json, sizeof json);
    const char *outs[3] = {out, tsv, json};
    if (cx_cli_check_outputs(p, outs, 3))
        return CLI_ERROR;

    if (vbt_contacts_load(&ct, cpath, &msg))
        goto fail_msg;
    if (cli_str(p, "connectome") && vbt_connectome_load(&conn, cli_str(p, "connectome"), &msg))
        goto fail_msg;
    if ((m_volume || (m_centre && !conn)) &&
        vbt_parcellation_load(&parc, cli_str(p, "parcellation"), cli_str(p, "labels"), &msg))
        goto fail_msg;
    if (parc) {
        const char *vs;
        vbt_parcellation_grid(parc, NULL, NULL, NULL, &vs);
        if (cx_cli_check_space(p, cpath, ct->space, cli_str(p, "parcellation"), vs,
                               cli_flag(p, "force-space")))
            goto fail;
    }
    if (m_dipole) {
        if (vbt_surface_load(&surf, cli_str(p, "surface"), &msg) ||
            vbt_region_mapping_load(cli_str(p, "region-mapping"), surf->nv, &map, &nr, &msg))
            goto fail_msg;
        if (conn) {
            if (nr > conn->n) {
                cli_error(p, "'%s': region index %zu, but '%s' has %zu regions",
                          cli_str(p, "region-mapping"), nr - 1, cli_str(p, "connectome"),
                          conn->n);
                goto fail;
            }
            nr = conn->n;
        }
    } else if (m_volume && conn) {
        /* Parcellation regions summed into the connectome's columns. */
        size_t np = vbt_parcellation_n_regions(parc);
        if (cli_str(p, "name-map") && vbt_name_map_load(cli_str(p, "name-map"), parc, &alias,
                                                       &msg))
            goto fail_msg;
        col = malloc((np + 1) * sizeof *col);
        fb = calloc(conn->n, 1);
        if (!col || !fb) {
            cli_error(p, "out of memory");
            goto fail;
        }
        vbt_parcellation_match_connectome(parc, conn, alias, col);
        size_t used = 0;
        for (size_t k = 0; k < np; k++)
            used += col[k] >= 0;
        if (!used) {
            cli_error(p, "'%s': no region of the parcellation matches a region of '%s' by name "
                      "(give --name-map)", cli_str(p, "labels"), cli_str(p, "connectome"));
            goto fail;
        }
        nr = conn->n;
    } else {
        if (cli_str(p, "name-map")) {
            fprintf(stderr, "vbt gain: --name-map needs --method volume and --connectome\n");
            rc = CLI_USAGE;
            goto fail;
        }
        nr = parc ? vbt_parcellation_n_regions(parc) : conn->n;
    }
    names = calloc(nr, sizeof *names);
    G = malloc(ct->n * nr * sizeof *G);
    if (!names || !G) {
        cli_error(p, "out of memory");
        goto fail;
    }
    for (size_t r = 0; r < nr; r++) {
        if (parc && !m_dipole && !col)
            snprintf(names[r], VBT_LABEL_MAX, "%s", vbt_parcellation_regions(parc)[r].name);
        else if (conn)
            snprintf(names[r], VBT_LABEL_MAX, "%s", conn->labels[r]);
        else
            snprintf(names[r], VBT_LABEL_MAX, "region-%zu", r);
    }
    double t0 = cli_now();
    int st;
    if (m_centre && conn)
        st = vbt_gain_centre(ct->pos, ct->n, conn->centres, nr, dmin, G, &msg);
    else if (m_centre) {
        double *cen = malloc(nr * 3 * sizeof *cen);
        if (!cen) {
            cli_error(p, "out of memory");
            goto fail;
        }
        for (size_t r = 0; r < nr; r++)
            memcpy(cen + 3 * r, vbt_parcellation_regions(parc)[r].centroid_mm, 3 * sizeof *cen);
        st = vbt_gain_centre(ct->pos, ct->n, cen, nr, dmin, G, &msg);
        free(cen);
    } else if (m_volume && col)
        st = vbt_gain_volume_mapped(ct->pos, ct->n, parc, col, conn->centres, nr, dmin, G, fb,
                                    &msg);
    else if (m_volume)
        st = vbt_gain_volume(ct->pos, ct->n, parc, dmin, G, &msg);
    else if (m_dipole)
        st = vbt_gain_dipole(ct->pos, ct->n, surf, map, nr, dmin, G, &msg);
    else
        st = vbt_gain_eeg(ct->pos, ct->n, conn->centres, conn->orientations, nr, dmin, G, &msg);
    if (st)
        goto fail_msg;
    double wall = cli_now() - t0;
    size_t nrows = ct->n;
    if (cli_flag(p, "bipolar")) {
        if (vbt_contacts_bipolar(ct, &pairs, &npairs, &msg))
            goto fail_msg;
        B = malloc(npairs * nr * sizeof *B);
        if (!B) {
            cli_error(p, "out of memory");
            goto fail;
        }
        vbt_gain_bipolar(G, nr, pairs, npairs, B);
        free(G);
        G = B;
        B = NULL;
        nrows = npairs;
    }
    const char *norm = cli_str(p, "normalize");
    vbt_gain_normalize_rows(G, nrows, nr, !strcmp(norm, "row-max") ? VBT_GAIN_NORM_ROW_MAX
                                          : !strcmp(norm, "row-sum") ? VBT_GAIN_NORM_ROW_SUM
                                                                     : VBT_GAIN_NORM_NONE);
    for (size_t k = 0; k < nrows * nr; k++)
        if (!isfinite(G[k])) {
            cli_error(p, "gain entry (%zu, %zu) is not finite", k / nr, k % nr);
            goto fail;
        }

    /* Sensor table. */
    strbuf text = {0};
    sb_printf(&text, "row\tname\tx\ty\tz\n");
    for (size_t r = 0; r < nrows; r++) {
        size_t a = pairs ? pairs[2 * r] : r, b = pairs ? pairs[2 * r + 1] : r;
        char name[2 * VBT_LABEL_MAX + 2];
        if (pairs)
            snprintf(name, sizeof name, "%s-%s", ct->labels[a], ct->labels[b]);
        else
            snprintf(name, sizeof name, "%s", ct->labels[a]);
        sb_printf(&text, "%zu\t%s\t%.6f\t%.6f\t%.6f\n", r, name,
                  0.5 * (ct->pos[3 * a] + ct->pos[3 * b]),
                  0.5 * (ct->pos[3 * a + 1] + ct->pos[3 * b + 1]),
                  0.5 * (ct->pos[3 * a + 2] + ct->pos[3 * b + 2]));
    }
    if (text.oom) {
        free(text.s);
        cli_error(p, "out of memory");
        goto fail;
    }
    size_t shape[2] = {nrows, nr};
    if (vbt_npy_write(out, G, 2, shape, p->common.force, &msg) ||
        vbt_file_write_atomic(tsv, text.s, text.len, p->common.force, &msg)) {
        free(text.s);
        goto fail_msg;
    }
    free(text.s);

    prov = cli_provenance_new(p);
    if (cx_cli_add_input(p, prov, "contacts", cpath))
        goto fail;
    static const char *const roles[] = {"connectome", "parcellation", "labels", "name-map",
                                        "surface", "region-mapping"};
    for (size_t k = 0; k < 6; k++)
        if (cli_str(p, roles[k]) && cx_cli_add_input(p, prov, roles[k], cli_str(p, roles[k])))
            goto fail;
    cJSON *o = cJSON_AddObjectToObject(prov, "gain");
    cJSON_AddStringToObject(o, "method", method);
    cJSON_AddStringToObject(o, "formula",
                            m_centre ? "1/(4 pi |s-c_r|^2)"
                            : m_volume ? "sum_v V_vox/(4 pi |s-v|^2)"
                            : m_dipole ? "sum_v A_v n_v.(s-x_v)/(4 pi |s-x_v|^3)"
                                       : "Q_r.(s'-c_r)/(4 pi |s'-c_r|^3), s' on a sphere "
                                         "R = 1.05125 max|c_r - c|");
    cJSON_AddBoolToObject(o, "bipolar", pairs != NULL);
    cJSON_AddStringToObject(o, "normalize", norm);
    cJSON_AddNumberToObject(o, "min_distance_mm", dmin);
    cJSON_AddStringToObject(o, "contacts_space", ct->space);
    if (surf)
        cJSON_AddBoolToObject(o, "normals_computed", surf->normals_computed);
    cJSON_AddItemToObject(o, "shape", cJSON_CreateDoubleArray((double[2]){(double)nrows,
                                                                           (double)nr}, 2));
    cJSON_AddStringToObject(o, "axes", "sensor, region");
    cJSON_AddStringToObject(o, "sensors_table", tsv);
    cJSON *regs = cJSON_AddArrayToObject(o, "regions");
    for (size_t r = 0; r < nr; r++)
        cJSON_AddItemToArray(regs, cJSON_CreateString(names[r]));
    if (col) {
        /* Which connectome regions had no voxels (centre formula), and which
         * parcellation regions were left out. */
        cJSON *cf = cJSON_AddArrayToObject(o, "centre_fallback");
        size_t nfb = 0;
        for (size_t r = 0; r < nr; r++)
            if (fb[r]) {
                cJSON_AddItemToArray(cf, cJSON_CreateString(names[r]));
                nfb++;
            }
        cJSON *un = cJSON_AddArrayToObject(o, "parcellation_unused");
        for (size_t k = 0; k < vbt_parcellation_n_regions(parc); k++)
            if (col[k] < 0)
                cJSON_AddItemToArray(un, cJSON_CreateString(vbt_parcellation_regions(parc)[k].name));
        if (nfb)
            cli_info(p, "gain volume: %zu of %zu regions have no voxels in '%s' and use the "
                     "centre formula (listed in %s)", nfb, nr, cli_str(p, "parcellation"), json);
    }
    cJSON_AddNumberToObject(o, "wall_s", wall);
    if (cx_cli_write_json(p, json, prov))
        goto fail;
    cli_info(p, "gain %s: %zu %s x %zu regions in %.3f s", method, nrows,
             pairs ? "bipolar pairs" : "contacts", nr, wall);
    printf("%s %s %s\n", out, tsv, json);
    rc = CLI_OK;
    goto out;
fail_msg:
    cli_error(p, "%s", msg.text);
fail:
out:
    cJSON_Delete(prov);
    free(names);
    free(G);
    free(B);
    free(pairs);
    free(map);
    free(col);
    free(fb);
    if (parc)
        vbt_name_map_free(alias, vbt_parcellation_n_regions(parc));
    vbt_surface_free(surf);
    vbt_parcellation_free(parc);
    vbt_connectome_free(conn);
    vbt_contacts_free(ct);
    return rc;
}

const cli_command cli_cmd_gain = {
    .name = "gain",
    .synopsis = "gain (lead-field) matrix from regions to SEEG/EEG sensors",
    .description =
        "Computes the gain matrix G[sensor, region] (float64 .npy) for monopolar contacts or "
        "bipolar pairs, in an infinite homogeneous medium of unit conductivity, positions in "
        "mm. centre: G = 1/(4 pi |s - c_r|^2) with the region centres; volume: G = sum over "
        "the region's voxels of V_vox/(4 pi |s - v|^2), in the parcellation's regions or, "
        "with --connectome, in the connectome's (regions matched by name or --name-map; a "
        "connectome region with no voxels takes the centre formula, listed in GAIN.json); "
        "dipole: G = sum over the region's "
        "vertices of A_v n_v.(s - x_v)/(4 pi |s - x_v|^3), A_v one third of the area of the "
        "triangles around v, n_v the unit normal (read, or computed from the triangles); "
        "eeg: TVB's spherical approximation, sensors moved onto the sphere of radius "
        "1.05125 max|c_r - c| around the mean centre c, region dipoles with the connectome's "
        "orientations (radial when absent). Distances under --min-distance count as "
        "--min-distance."
        "\n\n"
        "Writes GAIN.npy, GAIN.tsv (row, sensor name, position; bipolar rows are named "
        "'A1-A2' at the pair's midpoint) and GAIN.json (inputs with SHA-256, method, region "
        "names in column order). Contacts and a parcellation in different coordinate systems "
        "(per the BIDS coordsystem.json and the NIfTI sform/qform code) are refused unless "
        "--force-space.",
    .args = NULL,
    .n_args = 0,
    .opts = opts,
    .n_opts = sizeof opts / sizeof opts[0],
    .references = refs,
    .run = run,
};

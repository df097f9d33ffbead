/* cmd_gain.c -- `vbt gain --contacts FILE --method M ... -o GAIN.npy`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cx_cli.h"
#include "vbt.h"
#include "vbt_gain.h"

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
    {.name = "centres", .kind = CLI_TEXT, .metavar = "HOW", .def = "registered",
     .choices = "registered|given",
     .doc = "volume with --connectome: where the regions without voxels (each a ball of "
            "sources of the mean region volume) lie. "
            "registered: the connectome's centres mapped into the volume's space by the "
            "affine that best maps the other regions' centres onto their voxels' centroids, "
            "when it at least halves their distance (gain.json 'centres'); given: as they are"},
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

/* The options of the library call (vbt_gain_matrix_compute). */
static void gain_opts(const cli_parsed *p, vbt_gain_opts *o)
{
    static const char *const methods[] = {"centre", "volume", "dipole", "eeg"};
    const char *method = cli_str(p, "method"), *norm = cli_str(p, "normalize");
    vbt_gain_opts_default(o);
    for (size_t k = 0; k < sizeof methods / sizeof methods[0]; k++)
        if (!strcmp(method, methods[k]))
            o->method = (vbt_gain_method)k;
    o->contacts = cli_str(p, "contacts");
    o->connectome = cli_str(p, "connectome");
    o->parcellation = cli_str(p, "parcellation");
    o->labels = cli_str(p, "labels");
    o->name_map = cli_str(p, "name-map");
    o->surface = cli_str(p, "surface");
    o->region_mapping = cli_str(p, "region-mapping");
    o->bipolar = cli_flag(p, "bipolar");
    o->normalize = !strcmp(norm, "row-max")   ? VBT_GAIN_NORM_ROW_MAX
                   : !strcmp(norm, "row-sum") ? VBT_GAIN_NORM_ROW_SUM
                                              : VBT_GAIN_NORM_NONE;
    o->min_dist_mm = cli_float(p, "min-distance");
    o->force_space = cli_flag(p, "force-space");
    o->register_centres = !strcmp(cli_str(p, "centres"), "registered");
}

/* GAIN.json's provenance (tool, command line, inputs with SHA-256) as
 * JSON text for vbt_gain_matrix_write; NULL after an error. */
static char *provenance(const cli_parsed *p)
{
    static const char *const roles[] = {"contacts", "connectome", "parcellation", "labels",
                                        "name-map", "surface", "region-mapping"};
    cJSON *prov = cli_provenance_new(p);
    char *text = NULL;
    for (size_t k = 0; k < sizeof roles / sizeof roles[0]; k++)
        if (cli_str(p, roles[k]) && cx_cli_add_input(p, prov, roles[k], cli_str(p, roles[k])))
            goto out;
    if (!(text = cJSON_PrintUnformatted(prov)))
        cli_error(p, "out of memory");
out:
    cJSON_Delete(prov);
    return text;
}

static int run(const cli_parsed *p)
{
    const char *method = cli_str(p, "method"), *out = cli_str(p, "output");
    vbt_msg msg;
    vbt_gain_opts o;
    vbt_gain_matrix *g = NULL;
    char *prov = NULL;
    char tsv[4200], json[4200];

    int m_centre = !strcmp(method, "centre"), m_volume = !strcmp(method, "volume"),
        m_dipole = !strcmp(method, "dipole"), m_eeg = !strcmp(method, "eeg");
    if ((m_centre && !cli_str(p, "connectome") &&
         (need(p, "parcellation", method) || need(p, "labels", method))) ||
        (m_volume && (need(p, "parcellation", method) || need(p, "labels", method))) ||
        (m_dipole && (need(p, "surface", method) || need(p, "region-mapping", method))) ||
        (m_eeg && need(p, "connectome", method)))
        return CLI_USAGE;
    if (cli_str(p, "name-map") && !m_dipole && !(m_volume && cli_str(p, "connectome"))) {
        fprintf(stderr, "vbt gain: --name-map needs --method volume and --connectome\n");
        return CLI_USAGE;
    }
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

    gain_opts(p, &o);
    if (vbt_gain_matrix_compute(&g, &o, &msg)) {
        cli_error(p, "%s", msg.text);
        return CLI_ERROR;
    }
    int rc = CLI_ERROR;
    if (!(prov = provenance(p)))
        goto out;
    if (vbt_gain_matrix_write(g, out, prov, p->common.force, &msg)) {
        cli_error(p, "%s", msg.text);
        goto out;
    }
    if (g->n_centre_fallback)
        cli_info(p, "gain volume: %zu of %zu regions have no voxels in '%s' and use the "
                 "centre formula (listed in %s)", g->n_centre_fallback, g->n_regions,
                 cli_str(p, "parcellation"), json);
    cli_info(p, "gain %s: %zu %s x %zu regions in %.3f s", method, g->n_rows,
             g->bipolar ? "bipolar pairs" : "contacts", g->n_regions, g->wall_s);
    printf("%s %s %s\n", out, tsv, json);
    rc = CLI_OK;
out:
    free(prov);
    vbt_gain_matrix_free(g);
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

/* cmd_models.c -- `vbt models`: every registered model, coupling, scheme and
 * monitor with parameters, defaults, units and observed expressions. */
#include <math.h>
#include <string.h>

#include "cli.h"
#include "vbt.h"

static const cli_option opts[] = {
    {.name = "json", .kind = CLI_FLAG, .doc = "print machine-readable JSON instead of text"},
};

static void print_params(const vbt_param_desc *d, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        printf("    %-13s %-11.6g %-6s", d[i].name, d[i].def, d[i].unit);
        if (isfinite(d[i].lo) || isfinite(d[i].hi))
            printf(" [%g, %g]", d[i].lo, d[i].hi);
        printf("  %s\n", d[i].doc);
    }
}

static cJSON *params_json(const vbt_param_desc *d, size_t n)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", d[i].name);
        cJSON_AddNumberToObject(o, "default", d[i].def);
        cJSON_AddStringToObject(o, "unit", d[i].unit);
        if (isfinite(d[i].lo))
            cJSON_AddNumberToObject(o, "min", d[i].lo);
        if (isfinite(d[i].hi))
            cJSON_AddNumberToObject(o, "max", d[i].hi);
        cJSON_AddStringToObject(o, "doc", d[i].doc);
        cJSON_AddItemToArray(a, o);
    }
    return a;
}

static int print_json(void)
{
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "vbt_version", vbt_version());
    cJSON *ms = cJSON_AddArrayToObject(root, "models");
    for (size_t i = 0; vbt_model_types[i]; i++) {
        const vbt_model_type *m = vbt_model_types[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", m->name);
        cJSON_AddStringToObject(o, "title", m->title);
        cJSON_AddStringToObject(o, "doc", m->doc);
        cJSON_AddItemToObject(o, "state_variables",
                              cJSON_CreateStringArray(m->state_names, (int)m->n_state));
        cJSON *cv = cJSON_AddArrayToObject(o, "coupling_variables");
        for (size_t k = 0; k < m->n_cvar; k++)
            cJSON_AddItemToArray(cv, cJSON_CreateString(m->state_names[m->cvar[k]]));
        cJSON_AddItemToObject(o, "observed",
                              cJSON_CreateStringArray(m->observed, (int)m->n_observed));
        cJSON_AddItemToObject(o, "params", params_json(m->params, m->n_param));
        cJSON_AddItemToArray(ms, o);
    }
    cJSON *cs = cJSON_AddArrayToObject(root, "couplings");
    for (size_t i = 0; vbt_coupling_types[i]; i++) {
        const vbt_coupling_type *c = vbt_coupling_types[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", c->name);
        cJSON_AddStringToObject(o, "doc", c->doc);
        cJSON_AddItemToObject(o, "params", params_json(c->params, c->n_param));
        cJSON_AddItemToArray(cs, o);
    }
    cJSON *ss = cJSON_AddArrayToObject(root, "schemes");
    for (size_t i = 0; vbt_scheme_types[i]; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", vbt_scheme_types[i]->name);
        cJSON_AddStringToObject(o, "doc", vbt_scheme_types[i]->doc);
        cJSON_AddNumberToObject(o, "order", vbt_scheme_types[i]->order);
        cJSON_AddItemToArray(ss, o);
    }
    cJSON *mo = cJSON_AddArrayToObject(root, "monitors");
    for (size_t i = 0; vbt_monitor_types[i]; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "name", vbt_monitor_types[i]->name);
        cJSON_AddStringToObject(o, "doc", vbt_monitor_types[i]->doc);
        cJSON_AddItemToArray(mo, o);
    }
    char *text = cJSON_Print(root);
    if (text)
        printf("%s\n", text);
    cJSON_free(text);
    cJSON_Delete(root);
    return text ? CLI_OK : CLI_ERROR;
}

static int run(const cli_parsed *p)
{
    if (cli_flag(p, "json"))
        return print_json();
    printf("MODELS (\"model\": {\"name\": ...})\n");
    for (size_t i = 0; vbt_model_types[i]; i++) {
        const vbt_model_type *m = vbt_model_types[i];
        printf("\n  %s -- %s\n", m->name, m->title);
        printf("    state variables:");
        for (size_t k = 0; k < m->n_state; k++)
            printf(" %s", m->state_names[k]);
        printf("\n    coupling variables:");
        for (size_t k = 0; k < m->n_cvar; k++)
            printf(" %s", m->state_names[m->cvar[k]]);
        printf("\n    observed (default monitor variables):");
        for (size_t k = 0; k < m->n_observed; k++)
            printf(" \"%s\"", m->observed[k]);
        printf("\n    %-13s %-11s %-6s  %s\n", "parameter", "default", "unit", "[range] meaning");
        print_params(m->params, m->n_param);
    }
    printf("\nCOUPLINGS (\"coupling\": {\"name\": ...})\n");
    for (size_t i = 0; vbt_coupling_types[i]; i++) {
        const vbt_coupling_type *c = vbt_coupling_types[i];
        printf("\n  %s -- %s\n", c->name, c->doc);
        print_params(c->params, c->n_param);
    }
    printf("\nSCHEMES (\"integrator\": {\"scheme\": ...})\n");
    for (size_t i = 0; vbt_scheme_types[i]; i++)
        printf("  %-18s %s\n", vbt_scheme_types[i]->name, vbt_scheme_types[i]->doc);
    printf("\nMONITORS (\"monitors\": [{\"kind\": ...}])\n");
    for (size_t i = 0; vbt_monitor_types[i]; i++)
        printf("  %-18s %s\n", vbt_monitor_types[i]->name, vbt_monitor_types[i]->doc);
    return CLI_OK;
}

const cli_command cli_cmd_models = {
    .name = "models",
    .synopsis = "list the models, couplings, schemes and monitors with their parameters",
    .description = "Prints every registered neural-mass model with its state variables, "
                   "coupling variables, observed expressions and parameters (default, "
                   "unit, range, meaning), then the couplings, integration schemes and "
                   "monitors.  Times are in ms.",
    .opts = opts,
    .n_opts = sizeof opts / sizeof opts[0],
    .run = run,
};

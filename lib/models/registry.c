/* registry.c -- the registered plug-in types and their NULL-terminated
 * lists.  Adding a type: define its table in its own file, declare it
 * below, add it to one list. */
#include <string.h>

#include "internal.h"
#include "vbt_model.h"

extern const vbt_model_type vbt__model_epileptor VBT_HIDDEN;
extern const vbt_model_type vbt__model_epileptor2d VBT_HIDDEN;
extern const vbt_coupling_type vbt__coupling_linear VBT_HIDDEN;
extern const vbt_coupling_type vbt__coupling_difference VBT_HIDDEN;
extern const vbt_scheme_type vbt__scheme_euler VBT_HIDDEN;
extern const vbt_scheme_type vbt__scheme_heun VBT_HIDDEN;
extern const vbt_scheme_type vbt__scheme_rk4 VBT_HIDDEN;

const vbt_model_type *const vbt_model_epileptor = &vbt__model_epileptor;
const vbt_model_type *const vbt_model_epileptor2d = &vbt__model_epileptor2d;
const vbt_coupling_type *const vbt_coupling_linear = &vbt__coupling_linear;
const vbt_coupling_type *const vbt_coupling_difference = &vbt__coupling_difference;
const vbt_scheme_type *const vbt_scheme_euler = &vbt__scheme_euler;
const vbt_scheme_type *const vbt_scheme_heun = &vbt__scheme_heun;
const vbt_scheme_type *const vbt_scheme_rk4 = &vbt__scheme_rk4;

const vbt_model_type *const vbt_model_types[] = {
    &vbt__model_epileptor,
    &vbt__model_epileptor2d,
    NULL,
};

const vbt_coupling_type *const vbt_coupling_types[] = {
    &vbt__coupling_linear,
    &vbt__coupling_difference,
    NULL,
};

const vbt_scheme_type *const vbt_scheme_types[] = {
    &vbt__scheme_euler,
    &vbt__scheme_heun,
    &vbt__scheme_rk4,
    NULL,
};

const vbt_model_type *vbt_model_find(const char *name)
{
    for (size_t i = 0; name && vbt_model_types[i]; i++)
        if (strcmp(vbt_model_types[i]->name, name) == 0)
            return vbt_model_types[i];
    return NULL;
}

const vbt_coupling_type *vbt_coupling_find(const char *name)
{
    for (size_t i = 0; name && vbt_coupling_types[i]; i++)
        if (strcmp(vbt_coupling_types[i]->name, name) == 0)
            return vbt_coupling_types[i];
    return NULL;
}

const vbt_scheme_type *vbt_scheme_find(const char *name)
{
    for (size_t i = 0; name && vbt_scheme_types[i]; i++)
        if (strcmp(vbt_scheme_types[i]->name, name) == 0)
            return vbt_scheme_types[i];
    return NULL;
}

long vbt_param_index(const vbt_param_desc *params, size_t n_param, const char *name)
{
    for (size_t i = 0; name && i < n_param; i++)
        if (strcmp(params[i].name, name) == 0)
            return (long)i;
    return -1;
}

long vbt_model_state_index(const vbt_model_type *m, const char *name)
{
    for (size_t i = 0; name && i < m->n_state; i++)
        if (strcmp(m->state_names[i], name) == 0)
            return (long)i;
    return -1;
}

/* registry.c -- the registered models and their NULL-terminated list.
 * Adding a model: define its table in its own file, declare it below, add
 * it to the list.  (Couplings and schemes keep their registries beside their
 * tables, in couplings/couplings.c and schemes/schemes.c.) */
#include <string.h>

#include "internal.h"
#include "vbt_model.h"

extern const vbt_model_type vbt__model_epileptor VBT_HIDDEN;
extern const vbt_model_type vbt__model_epileptor2d VBT_HIDDEN;
extern const vbt_model_type vbt__model_jansen_rit VBT_HIDDEN;
extern const vbt_model_type vbt__model_reduced_wong_wang VBT_HIDDEN;
extern const vbt_model_type vbt__model_reduced_wong_wang_exc_inh VBT_HIDDEN;
extern const vbt_model_type vbt__model_montbrio_pazo_roxin VBT_HIDDEN;
extern const vbt_model_type vbt__model_generic_2d_oscillator VBT_HIDDEN;
extern const vbt_model_type vbt__model_kuramoto VBT_HIDDEN;

const vbt_model_type *const vbt_model_epileptor = &vbt__model_epileptor;
const vbt_model_type *const vbt_model_epileptor2d = &vbt__model_epileptor2d;
const vbt_model_type *const vbt_model_jansen_rit = &vbt__model_jansen_rit;
const vbt_model_type *const vbt_model_reduced_wong_wang = &vbt__model_reduced_wong_wang;
const vbt_model_type *const vbt_model_reduced_wong_wang_exc_inh = &vbt__model_reduced_wong_wang_exc_inh;
const vbt_model_type *const vbt_model_montbrio_pazo_roxin = &vbt__model_montbrio_pazo_roxin;
const vbt_model_type *const vbt_model_generic_2d_oscillator = &vbt__model_generic_2d_oscillator;
const vbt_model_type *const vbt_model_kuramoto = &vbt__model_kuramoto;

const vbt_model_type *const vbt_model_types[] = {
    &vbt__model_epileptor,
    &vbt__model_epileptor2d,
    &vbt__model_jansen_rit,
    &vbt__model_reduced_wong_wang,
    &vbt__model_reduced_wong_wang_exc_inh,
    &vbt__model_montbrio_pazo_roxin,
    &vbt__model_generic_2d_oscillator,
    &vbt__model_kuramoto,
    NULL,
};

const vbt_model_type *vbt_model_find(const char *name)
{
    for (size_t i = 0; name && vbt_model_types[i]; i++)
        if (strcmp(vbt_model_types[i]->name, name) == 0)
            return vbt_model_types[i];
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

/* vbt_model.h -- the plug-in types of the simulator: neural-mass models,
 * coupling functions, integration schemes and observed expressions.
 *
 * Each plug-in is a constant type table defined at the end of its own file
 * and exported as one pointer (vbt_model_epileptor, vbt_coupling_difference,
 * vbt_scheme_heun, ...).  NULL-terminated registries list them for the CLI
 * and the tests.  The simulator never changes when a type is added.
 *
 * Memory layout shared by every kernel ("lanes"): a kernel works on n lanes
 * at once, structure-of-arrays.  State variable v of lane k is x[v*n + k];
 * coupling input cv of lane k is c[cv*n + k]; parameter i of lane k is
 * p[i*n + k] (every parameter is stored per lane, so a parameter may vary
 * across regions, and later across simulations of a batch, at no cost).
 * For one simulation a lane is a region.
 */
#ifndef VBT_MODEL_H
#define VBT_MODEL_H

#include <stddef.h>
#include "vbt_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A parameter of a model or coupling: name, default, unit, documented
 * range (advisory; -HUGE_VAL/HUGE_VAL when unbounded) and one line of doc. */
typedef struct vbt_param_desc {
    const char *name;
    double def;
    const char *unit;
    double lo, hi;
    const char *doc;
} vbt_param_desc;

/* Right-hand side of the model: dx = f(x, c; p) for n lanes.  Must not
 * allocate; must not read dx before writing it. */
typedef void (*vbt_dfun_fn)(size_t n, const double *restrict x,
                            const double *restrict c, const double *restrict p,
                            double *restrict dx);

typedef struct vbt_model_type {
    const char *name;               /* config name, e.g. "epileptor" */
    const char *title;              /* e.g. "Epileptor (Jirsa et al. 2014)" */
    const char *doc;                /* a paragraph: equations' source, units */
    size_t n_state;
    const char *const *state_names; /* n_state names, TVB order */
    size_t n_cvar;
    const size_t *cvar;             /* state indices fed to the coupling */
    size_t n_param;
    const vbt_param_desc *params;
    size_t n_observed;
    const char *const *observed;    /* default observed expressions */
    vbt_dfun_fn dfun;               /* required */
    /* Optional: project lanes onto the state's bounds (e.g. S in [0, 1]);
     * applied by every scheme after each stage.  NULL when unbounded. */
    void (*clamp)(size_t n, double *restrict x);
    /* Optional: typical range [lo, hi] of each state variable (TVB's
     * state_variable_range), n_state pairs; used by the test battery. */
    const double (*state_range)[2];
    /* Optional: the Jacobian of dfun for ONE lane with the coupling held
     * fixed: J[v * n_state + w] = d(dx_v)/d(x_w).  p holds one value per
     * parameter.  The tests compare it with finite differences. */
    void (*jacobian)(const double *restrict x, const double *restrict c,
                     const double *restrict p, double *restrict J);
} vbt_model_type;

/* Coupling: c_i = post( sum_j w_ij pre(x_j(t - tau_ij)), x_i(t) ).
 *
 * pre() maps the model's n_cvar coupling variables of each SOURCE lane to
 * n_pre(n_cvar) rows (identity when NULL); the simulator stores these rows
 * in its delay history and forms the weighted sums s_i = sum_j w_ij
 * pre_j(t - tau_ij) (sparse or dense, with delays).  post() turns the sums
 * into the input of each TARGET lane, given its current coupling variables
 * xi ([n_cvar][n]) and the row sums of the weights rs_i = sum_j w_ij; it
 * writes all n_cvar rows of c (rows it does not use are set to 0).
 * Every coupling of The Virtual Brain has this form: pre-synaptic terms that
 * depend on the target, such as sin(x_j - x_i) or x_j - x_i, are expanded
 * (sin x_j cos x_i - cos x_j sin x_i; s_i - x_i rs_i). */
typedef void (*vbt_coupling_pre_fn)(size_t n, size_t n_cvar, const double *restrict x,
                                    const double *restrict p, double *restrict out);
typedef void (*vbt_coupling_post_fn)(size_t n, size_t n_cvar, const double *restrict s,
                                     const double *restrict xi,
                                     const double *restrict rs,
                                     const double *restrict p,
                                     double *restrict c);

typedef struct vbt_coupling_type {
    const char *name;               /* "linear", "difference", ... */
    const char *doc;
    size_t n_param;
    const vbt_param_desc *params;
    size_t min_cvar;                /* coupling variables the model must have */
    size_t (*n_pre)(size_t n_cvar); /* rows pre() produces; NULL: n_cvar */
    vbt_coupling_pre_fn pre;        /* optional; NULL: identity */
    vbt_coupling_post_fn post;      /* required */
} vbt_coupling_type;

/* One step of an integration scheme for n lanes of model m with parameters
 * p, coupling c held fixed through every stage.  x is updated in place.
 * work holds n_work state-sized vectors (n_state * n doubles each).
 * dW holds the additive increments of the step (state-sized: noise and the
 * stimulus dt I(t)), or is NULL; only schemes marked stochastic take noise,
 * every scheme takes a stimulus. */
typedef void (*vbt_step_fn)(const vbt_model_type *m, size_t n,
                            const double *restrict p, const double *restrict c,
                            double dt, const double *restrict dW,
                            double *restrict x, double *restrict work);

typedef struct vbt_scheme_type {
    const char *name;               /* "euler", "heun", "rk4" */
    const char *doc;
    int order;                      /* global order of accuracy (deterministic) */
    int stochastic;                 /* accepts noise increments in dW */
    size_t n_work;
    vbt_step_fn step;
} vbt_scheme_type;

/* ---- registered types ------------------------------------------------- */
extern const vbt_model_type *const vbt_model_epileptor;
extern const vbt_model_type *const vbt_model_epileptor2d;
extern const vbt_model_type *const vbt_model_jansen_rit;
extern const vbt_model_type *const vbt_model_reduced_wong_wang;
extern const vbt_model_type *const vbt_model_reduced_wong_wang_exc_inh;
extern const vbt_model_type *const vbt_model_montbrio_pazo_roxin;
extern const vbt_model_type *const vbt_model_generic_2d_oscillator;
extern const vbt_model_type *const vbt_model_kuramoto;
extern const vbt_coupling_type *const vbt_coupling_linear;
extern const vbt_coupling_type *const vbt_coupling_scaling;
extern const vbt_coupling_type *const vbt_coupling_difference;
extern const vbt_coupling_type *const vbt_coupling_sigmoidal;
extern const vbt_coupling_type *const vbt_coupling_sigmoidal_jansen_rit;
extern const vbt_coupling_type *const vbt_coupling_hyperbolic_tangent;
extern const vbt_coupling_type *const vbt_coupling_kuramoto;
extern const vbt_scheme_type *const vbt_scheme_euler;
extern const vbt_scheme_type *const vbt_scheme_heun;
extern const vbt_scheme_type *const vbt_scheme_rk4;

/* NULL-terminated registries. */
extern const vbt_model_type *const vbt_model_types[];
extern const vbt_coupling_type *const vbt_coupling_types[];
extern const vbt_scheme_type *const vbt_scheme_types[];

/* Look up by name; NULL when unknown. */
const vbt_model_type *vbt_model_find(const char *name);
const vbt_coupling_type *vbt_coupling_find(const char *name);
const vbt_scheme_type *vbt_scheme_find(const char *name);

/* Index of a parameter / state variable by name, or -1. */
long vbt_param_index(const vbt_param_desc *params, size_t n_param, const char *name);
long vbt_model_state_index(const vbt_model_type *m, const char *name);

/* ---- observed expressions ----------------------------------------------
 * An observed expression is a linear combination of state variables:
 * "z", "x2 - x1", "0.5*x1 + x2", "-y1".  Terms are [coef ['*']] name or
 * name ['*' coef], joined by '+' or '-'.  Monitors record expressions. */
#define VBT_OBS_MAXTERMS 8
typedef struct vbt_observable {
    char expr[64];                  /* canonical text, e.g. "x2 - x1" */
    size_t n_terms;
    size_t var[VBT_OBS_MAXTERMS];
    double coef[VBT_OBS_MAXTERMS];
} vbt_observable;

/* Parse an expression against model m.  VBT_EINVAL with a message naming
 * the expression and the unknown variable or syntax error. */
int vbt_observable_parse(const vbt_model_type *m, const char *expr,
                         vbt_observable *obs, vbt_msg *msg);

/* out[k] = sum_t coef_t * x[var_t * n + k] for k < n. */
void vbt_observable_eval(const vbt_observable *obs, size_t n,
                         const double *restrict x, double *restrict out);

#ifdef __cplusplus
}
#endif
#endif

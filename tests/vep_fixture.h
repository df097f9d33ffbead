/* vep_fixture.h -- the small near-Gaussian VEP problem shared by the tests
 * of the approximate and sequential samplers (test_advi.c, test_smc.c): 3
 * regions in a chain, 4 sensors, 60 samples, x0 = (-2.8, -3.2, -3.0),
 * initial state, K, amp and eps held (eps 0.1), free x0 and offsets;
 * x0 ~ N(x0_mu, 0.5).  Data from the model itself plus N(0, 0.1^2) noise of
 * stream (17, 0).  Included by one test program each (static). */
#ifndef VBT_TEST_VEP_FIXTURE_H
#define VBT_TEST_VEP_FIXTURE_H

#include "test_util.h"
#include "vbt_rng.h"
#include "vbt_vep.h"

enum { VF_NR = 3, VF_NS = 4, VF_NT = 60 };

/* The true x0 of the data. */
static const double vf_x0[VF_NR] = {-2.8, -3.2, -3.0};

/* The chain's weights and the sensors' gain. */
static const double vf_W[VF_NR * VF_NR] = {0, 1, 0, 1, 0, 0.5, 0, 0.5, 0};
static const double vf_G[VF_NS * VF_NR] = {1.0, 0.2, 0.1, 0.3, 1.0, 0.2, 0.1, 0.4, 1.0,
                                           0.5, 0.5, 0.5};

/* The model with its data y (VF_NT * VF_NS, which must outlive it). */
static vbt_vep *vf_problem(double x0_mu, double *y)
{
    const double *W = vf_W, *G = vf_G;
    vbt_vep_spec sp;
    vbt_vep_spec_default(&sp);
    sp.n_regions = VF_NR;
    sp.n_sensors = VF_NS;
    sp.n_samples = VF_NT;
    sp.weights = W;
    sp.gain = G;
    sp.priors.x0 = (vbt_vep_group_prior){.mu = x0_mu, .sd = 0.5};
    sp.priors.x_init = (vbt_vep_group_prior){.mu = -2.0, .sd = 1.0, .fixed = 1};
    sp.priors.z_init = (vbt_vep_group_prior){.mu = 4.0, .sd = 1.0, .fixed = 1};
    sp.priors.K.fixed = sp.priors.amp.fixed = sp.priors.eps.fixed = 1;
    sp.priors.K.value = sp.priors.amp.value = 1.0;
    sp.priors.eps.value = 0.1;
    vbt_vep *m;
    vbt_msg msg;
    if (vbt_vep_alloc(&m, &sp, &msg))
        fail_msg("%s", msg.text);
    double th[VF_NR + VF_NS], nat[VF_NR + VF_NS] = {vf_x0[0], vf_x0[1], vf_x0[2], 0, 0, 0, 0};
    assert_int_equal(vbt_vep_unconstrain(m, nat, th), VBT_OK);
    assert_int_equal(vbt_vep_simulate(m, th, NULL, y), VBT_OK);
    vbt_rng r;
    vbt_rng_init(&r, 17, 0);
    double e[VF_NT * VF_NS];
    vbt_rng_normal(&r, e, VF_NT * VF_NS);
    for (size_t k = 0; k < VF_NT * VF_NS; k++)
        y[k] += 0.1 * e[k];
    vbt_vep_free(m);
    sp.data = y;
    if (vbt_vep_alloc(&m, &sp, &msg))
        fail_msg("%s", msg.text);
    return m;
}

/* The reference posterior moments of m (natural units, n_params each):
 * MAP from 4 starts into map, then 4000 Laplace draws weighted by PSIS
 * (k-hat < 0.5 asserted: near-Gaussian, as intended); mean and second
 * moment about zero in m1, m2 (m2 may be NULL). */
static void vf_laplace_reference(vbt_vep *m, double *map, double *m1, double *m2)
{
    const size_t np = vbt_vep_n_params(m), L = 4000;
    vbt_msg msg;
    vbt_vep_map_opts mo;
    vbt_vep_map_opts_default(&mo);
    mo.n_starts = 4;
    mo.seed = 1;
    vbt_vep_map_result mr;
    if (vbt_vep_map(m, &mo, map, &mr, NULL, NULL, &msg))
        fail_msg("%s", msg.text);
    double *ld = malloc(L * np * sizeof *ld), *lw = malloc(L * sizeof *lw),
           *nat = malloc(np * sizeof *nat);
    assert_true(ld && lw && nat);
    vbt_vep_laplace_result lr;
    if (vbt_vep_laplace(m, map, L, 2, ld, lw, &lr, &msg))
        fail_msg("%s", msg.text);
    assert_true(lr.khat < 0.5);
    for (size_t i = 0; i < np; i++) {
        m1[i] = 0.0;
        if (m2)
            m2[i] = 0.0;
    }
    for (size_t d = 0; d < L; d++) {
        vbt_vep_constrain(m, ld + d * np, nat);
        for (size_t i = 0; i < np; i++) {
            m1[i] += exp(lw[d]) * nat[i];
            if (m2)
                m2[i] += exp(lw[d]) * nat[i] * nat[i];
        }
    }
    free(ld);
    free(lw);
    free(nat);
}

#ifdef VBT_FIT_H
/* The problem as the fit object's inputs (vbt_fit.h; test_fit.c and the
 * chains-apart tests of test_cohort_mpi.c): its data, its priors (x0 ~
 * N(-3, 0.5); initial state, K, amp and eps held). */
typedef struct vf_fit_problem {
    char labels[VF_NR][VBT_LABEL_MAX];
    vbt_connectome conn;
    double g[VF_NS * VF_NR], y[VF_NT * VF_NS];
    vbt_array gain, data;
    vbt_vep_priors priors;
} vf_fit_problem;

static inline void vf_fit_problem_make(vf_fit_problem *p)
{
    memset(p, 0, sizeof *p);
    vbt_vep_free(vf_problem(-3.0, p->y));
    for (size_t r = 0; r < VF_NR; r++)
        snprintf(p->labels[r], VBT_LABEL_MAX, "region-%zu", r + 1);
    p->conn.n = VF_NR;
    p->conn.weights = (double *)vf_W;
    p->conn.labels = p->labels;
    memcpy(p->g, vf_G, sizeof vf_G);
    p->gain = (vbt_array){.data = p->g, .ndim = 2, .shape = {VF_NS, VF_NR},
                          .size = VF_NS * VF_NR};
    p->data = (vbt_array){.data = p->y, .ndim = 2, .shape = {VF_NT, VF_NS},
                          .size = VF_NT * VF_NS};
    vbt_vep_priors_default(&p->priors);
    p->priors.x0 = (vbt_vep_group_prior){.mu = -3.0, .sd = 0.5};
    p->priors.x_init = (vbt_vep_group_prior){.mu = -2.0, .sd = 1.0, .fixed = 1};
    p->priors.z_init = (vbt_vep_group_prior){.mu = 4.0, .sd = 1.0, .fixed = 1};
    p->priors.K.fixed = p->priors.amp.fixed = p->priors.eps.fixed = 1;
    p->priors.K.value = p->priors.amp.value = 1.0;
    p->priors.eps.value = 0.1;
}
#endif

#endif

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

/* The model with its data y (VF_NT * VF_NS, which must outlive it). */
static vbt_vep *vf_problem(double x0_mu, double *y)
{
    static const double W[VF_NR * VF_NR] = {0, 1, 0, 1, 0, 0.5, 0, 0.5, 0};
    static const double G[VF_NS * VF_NR] = {1.0, 0.2, 0.1, 0.3, 1.0, 0.2, 0.1, 0.4, 1.0,
                                            0.5, 0.5, 0.5};
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

#endif

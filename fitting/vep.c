/* vep.c -- the BVEP model: 2D Epileptor network, observation models,
 * priors through non-centred and log transforms, the log posterior and its
 * gradient by the discrete adjoint of the integration scheme.
 *
 * Every scheme is an explicit Runge-Kutta method given by its Butcher
 * tableau (a, b), so one forward and one reverse pass serve Euler, Heun and
 * RK4.  Forward, per step of size h from state s:
 *
 *   Y_i = s + h sum_{j<i} a_ij k_j,   k_i = f(Y_i),   s' = s + h sum_i b_i k_i
 *
 * Reverse, with lam' = dL/ds' (bars are adjoints), for i = stages-1 .. 0:
 *
 *   kbar_i = h b_i lam' + h sum_{j>i} a_ji Ybar_j,   Ybar_i = J(Y_i)^T kbar_i,
 *   theta_bar += (df/dtheta at Y_i)^T kbar_i,        lam = lam' + sum_i Ybar_i
 *
 * which is the exact gradient of the discrete map (not of the ODE).  The
 * forward pass stores what the reverse pass reads of every stage: x of Y_i,
 * z of k_i and the coupling L x(Y_i), with L = C - diag(rowsum C), so that
 * sum_j C_ij (x_j - x_i) = (L x)_i.  The products with L and L^T are
 * matvec_lanes() below, not BLAS: at the BVEP size (84 regions) a call of
 * dgemv costs about twice as much.
 */
#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>

#include "vbt_rng.h"
#include "vep_internal.h"

#define MAX_STAGES 4
#define MV_PAD 8 /* matvec_lanes' row padding: one AVX-512 vector of doubles */
#define NAME_LEN 32

enum { G_X0, G_XI, G_ZI, G_OFF, G_GIN, N_GROUP };
enum { S_K, S_TAU0, S_AMP, S_EPS, N_SCALAR };

struct vbt_vep {
    size_t n, ns, nt, steps, n_off, np;
    vbt_vep_scheme scheme;
    vbt_vep_obs obs;
    double dt, h, I1, sig_x, sig_w; /* sig_*: the seizure-indicator observation */
    vbt_vep_priors pri;
    int stages;
    double a[MAX_STAGES][MAX_STAGES], b[MAX_STAGES];

    double *C;        /* normalised weights (kept for clones) */
    size_t ld;        /* n rounded up to a multiple of MV_PAD */
    double *Lp, *LTp; /* n x ld: L and its transpose, rows padded with zeros (matvec_lanes) */
    double *G;        /* ns x n */
    double *Y;        /* nt x ns, or NULL */
    double *mu_g[N_GROUP], *sd_g[N_GROUP]; /* per element prior of each group */
    double *nu_g[N_GROUP];  /* per element: 0 normal, > 0 Student-t degrees of freedom */
    double *tc_g[N_GROUP];  /* log normaliser of each element's standard density */
    size_t len_g[N_GROUP];
    long off_g[N_GROUP];  /* index in theta, -1 when fixed */
    long off_s[N_SCALAR];
    double lognorm_s[N_SCALAR]; /* log normaliser of truncated-normal scalars */
    char (*names)[NAME_LEN];

    /* workspaces */
    double *nat;      /* np natural values */
    double *gnat;     /* np: the log prior's gradient in theta (logp) */
    double *stY, *stK, *stLx; /* [step][stage] n each: x of Y_i, z of k_i, L x(Y_i) */
    double *fw;       /* (1 + MAX_STAGES) n: forward's z of Y_i and x of every k_i */
    double *X;        /* nt x n sampled x */
    double *P, *R;    /* nt x ns: G x (or G exp x), residual / eps^2 */
    double *E;        /* nt x n: exp(x) (log-power) */
    double *LP;       /* nt x ns: log P (log-power; NULL otherwise), for the gradient */
    double *dX;       /* nt x n: dL/dx at the samples */
    double *lam, *Ybar, *kbar, *tmp; /* 2n, stages x 2n, 2n, n */
    double *x0, *xi, *zi, *off;     /* natural per-element values */
    double *gx0, *goff;   /* dL/dx0, dL/doff (natural) */
    int marg;             /* the offsets are integrated out (priors.off_marginal) */
    /* per-region input gains (priors.gin): the coupling into region i is
     * K exp(gin_i) (L x)_i.  has_gin 0 (gin fixed at 0, the default): every
     * loop takes its gain-free form, with the bytes of a model without them */
    int has_gin;
    double *gin, *ge, *ggin, *gaz; /* log gain, exp(gin), dL/dgin (natural), ge * az */
    double *ohat, *osd, *os2; /* n_off: E[off | rest], sd[off | rest], scratch */

    /* vbt_vep_logp_batch: lane[0] = this model, lane[1..] private clones;
     * the per-lane scalars in one block (lane_mem); n_lane of each, 0 before
     * the first batch */
    size_t n_lane;
    struct vbt_vep **lane;
    void *lane_mem;
};

static const vbt_vep_scalar_prior *scalar_prior(const vbt_vep_priors *p, int k)
{
    switch (k) {
    case S_K: return &p->K;
    case S_TAU0: return &p->tau0;
    case S_AMP: return &p->amp;
    default: return &p->eps;
    }
}

static const vbt_vep_group_prior *group_prior(const vbt_vep_priors *p, int g)
{
    switch (g) {
    case G_X0: return &p->x0;
    case G_XI: return &p->x_init;
    case G_ZI: return &p->z_init;
    case G_OFF: return &p->off;
    default: return &p->gin;
    }
}

double vbt__log_upper_tail(double a)
{
    /* Q(a) = erfc(a / sqrt 2) / 2; for very large a use the asymptotic
     * log Q(a) ~ -a^2/2 - log(a sqrt(2 pi)) (erfc underflows near a = 38). */
    if (a < 30.0)
        return log(0.5 * erfc(a / M_SQRT2));
    return -0.5 * a * a - log(a * sqrt(2.0 * M_PI)) + log1p(-1.0 / (a * a));
}

void vbt_vep_spec_default(vbt_vep_spec *s)
{
    memset(s, 0, sizeof *s);
    s->normalize = VBT_NORMALIZE_MAX;
    s->scheme = VBT_VEP_EULER;
    s->dt = 0.1;
    s->steps = 1;
    s->obs = VBT_VEP_OBS_LINEAR;
    s->I1 = 3.1;
    s->sig_x = -1.0;
    s->sig_w = 0.1;
    vbt_vep_priors_default(&s->priors);
}

static void set_tableau(vbt_vep *m)
{
    memset(m->a, 0, sizeof m->a);
    memset(m->b, 0, sizeof m->b);
    switch (m->scheme) {
    case VBT_VEP_EULER:
        m->stages = 1;
        m->b[0] = 1.0;
        break;
    case VBT_VEP_HEUN:
        m->stages = 2;
        m->a[1][0] = 1.0;
        m->b[0] = m->b[1] = 0.5;
        break;
    case VBT_VEP_RK4:
        m->stages = 4;
        m->a[1][0] = 0.5;
        m->a[2][1] = 0.5;
        m->a[3][2] = 1.0;
        m->b[0] = m->b[3] = 1.0 / 6.0;
        m->b[1] = m->b[2] = 1.0 / 3.0;
        break;
    }
}

static int all_finite(const double *v, size_t len)
{
    for (size_t k = 0; k < len; k++)
        if (!isfinite(v[k]))
            return 0;
    return 1;
}

void vbt_vep_free(vbt_vep *m)
{
    if (!m)
        return;
    for (size_t l = 1; l < m->n_lane; l++)
        vbt_vep_free(m->lane[l]);
    free(m->lane);
    free(m->lane_mem);
    free(m->C);
    free(m->Lp);
    free(m->LTp);
    free(m->G);
    free(m->Y);
    for (int g = 0; g < N_GROUP; g++) {
        free(m->mu_g[g]);
        free(m->sd_g[g]);
        free(m->nu_g[g]);
        free(m->tc_g[g]);
    }
    free(m->names);
    free(m->nat);
    free(m->gnat);
    free(m->stY);
    free(m->stK);
    free(m->stLx);
    free(m->fw);
    free(m->X);
    free(m->P);
    free(m->R);
    free(m->E);
    free(m->dX);
    free(m->lam);
    free(m->Ybar);
    free(m->kbar);
    free(m->tmp);
    free(m->x0);
    free(m->xi);
    free(m->zi);
    free(m->off);
    free(m->LP);
    free(m->ohat);
    free(m->osd);
    free(m->os2);
    free(m->gx0);
    free(m->goff);
    free(m->gin);
    free(m->ge);
    free(m->ggin);
    free(m->gaz);
    free(m);
}

static int check_spec(const vbt_vep_spec *s, vbt_msg *msg)
{
    if (!s)
        return vbt__fail(msg, VBT_EINVAL, "vep: no spec");
    if (s->n_regions == 0 || s->n_sensors == 0 || s->n_samples == 0)
        return vbt__fail(msg, VBT_EINVAL, "vep: sizes must be positive (regions %zu, sensors %zu, samples %zu)",
                         s->n_regions, s->n_sensors, s->n_samples);
    if (s->n_regions > 100000 || s->n_sensors > 100000 || s->n_samples > 10000000 ||
        s->steps > 100000)
        return vbt__fail(msg, VBT_ERANGE, "vep: sizes too large");
    if (!s->weights || !s->gain)
        return vbt__fail(msg, VBT_EINVAL, "vep: weights and gain are required");
    if (s->scheme != VBT_VEP_EULER && s->scheme != VBT_VEP_HEUN && s->scheme != VBT_VEP_RK4)
        return vbt__fail(msg, VBT_EINVAL, "vep: unknown scheme %d", (int)s->scheme);
    if (s->obs != VBT_VEP_OBS_LINEAR && s->obs != VBT_VEP_OBS_LOGPOWER &&
        s->obs != VBT_VEP_OBS_POWER && s->obs != VBT_VEP_OBS_SEIZURE)
        return vbt__fail(msg, VBT_EINVAL, "vep: unknown observation model %d", (int)s->obs);
    if (s->obs == VBT_VEP_OBS_SEIZURE && (!isfinite(s->sig_x) || !(s->sig_w > 0) ||
                                          !isfinite(s->sig_w)))
        return vbt__fail(msg, VBT_EINVAL, "vep: seizure observation needs a finite threshold "
                                          "and a positive width");
    if (s->normalize != VBT_NORMALIZE_NONE && s->normalize != VBT_NORMALIZE_MAX &&
        s->normalize != VBT_NORMALIZE_ROWSUM)
        return vbt__fail(msg, VBT_EINVAL, "vep: unknown normalisation %d", (int)s->normalize);
    if (!(s->dt > 0) || !isfinite(s->dt))
        return vbt__fail(msg, VBT_EINVAL, "vep: dt must be positive, got %g", s->dt);
    if (s->steps < 1)
        return vbt__fail(msg, VBT_EINVAL, "vep: steps per sample must be >= 1");
    if (!isfinite(s->I1))
        return vbt__fail(msg, VBT_EINVAL, "vep: I1 is not finite");
    size_t n = s->n_regions, ns = s->n_sensors;
    for (size_t k = 0; k < n * n; k++)
        if (!isfinite(s->weights[k]) || s->weights[k] < 0)
            return vbt__fail(msg, VBT_ENUMERIC, "vep: weight row %zu col %zu is %g (must be finite, >= 0)",
                             k / n + 1, k % n + 1, s->weights[k]);
    for (size_t r = 0; r < ns; r++) {
        double sum = 0;
        for (size_t j = 0; j < n; j++) {
            double g = s->gain[r * n + j];
            if (!isfinite(g))
                return vbt__fail(msg, VBT_ENUMERIC, "vep: gain row %zu col %zu is not finite", r + 1, j + 1);
            if ((s->obs == VBT_VEP_OBS_LOGPOWER || s->obs == VBT_VEP_OBS_POWER) && g < 0)
                return vbt__fail(msg, VBT_EINVAL, "vep: log-power observation needs gain >= 0 (row %zu col %zu is %g)",
                                 r + 1, j + 1, g);
            sum += g;
        }
        if ((s->obs == VBT_VEP_OBS_LOGPOWER || s->obs == VBT_VEP_OBS_POWER) && !(sum > 0))
            return vbt__fail(msg, VBT_EINVAL, "vep: log-power observation: gain row %zu is empty", r + 1);
    }
    if (s->data && !all_finite(s->data, s->n_samples * ns))
        return vbt__fail(msg, VBT_ENUMERIC, "vep: data contain NaN or Inf");
    return vbt_vep_priors_validate(&s->priors, n, msg);
}

int vbt_vep_alloc(vbt_vep **out, const vbt_vep_spec *s, vbt_msg *msg)
{
    if (!out)
        return vbt__fail(msg, VBT_EINVAL, "vep: NULL output");
    *out = NULL;
    int st = check_spec(s, msg);
    if (st)
        return st;
    vbt_vep *m = calloc(1, sizeof *m);
    if (!m)
        return vbt__fail(msg, VBT_ENOMEM, "vep: out of memory");
    size_t n = s->n_regions, ns = s->n_sensors, nt = s->n_samples;
    m->n = n;
    m->ns = ns;
    m->nt = nt;
    m->steps = s->steps;
    m->scheme = s->scheme;
    m->obs = s->obs;
    m->dt = s->dt;
    m->h = s->dt / (double)s->steps;
    m->I1 = s->I1;
    m->sig_x = s->sig_x;
    m->sig_w = s->sig_w;
    m->pri = s->priors;
    set_tableau(m);
    m->n_off = s->obs == VBT_VEP_OBS_LOGPOWER ? 1 : ns;
    m->marg = m->pri.off_marginal && !m->pri.off.fixed;
    m->has_gin = !(m->pri.gin.fixed && m->pri.gin.mu == 0.0);

    /* L = C - diag(rowsum C) for matvec_lanes(): both orientations, rows padded to ld */
    m->ld = (n + MV_PAD - 1) / MV_PAD * MV_PAD;
    m->C = malloc(n * n * sizeof *m->C);
    m->Lp = calloc(n * m->ld, sizeof *m->Lp);
    m->LTp = calloc(n * m->ld, sizeof *m->LTp);
    m->G = malloc(ns * n * sizeof *m->G);
    if (!m->C || !m->Lp || !m->LTp || !m->G)
        goto nomem;
    memcpy(m->C, s->weights, n * n * sizeof *m->C);
    for (size_t i = 0; i < n; i++)
        m->C[i * n + i] = 0.0;
    if (s->normalize == VBT_NORMALIZE_MAX) {
        double mx = 0;
        for (size_t k = 0; k < n * n; k++)
            mx = fmax(mx, m->C[k]);
        if (mx > 0)
            for (size_t k = 0; k < n * n; k++)
                m->C[k] /= mx;
    } else if (s->normalize == VBT_NORMALIZE_ROWSUM) {
        for (size_t i = 0; i < n; i++) {
            double sum = 0;
            for (size_t j = 0; j < n; j++)
                sum += m->C[i * n + j];
            if (sum > 0)
                for (size_t j = 0; j < n; j++)
                    m->C[i * n + j] /= sum;
        }
    }
    for (size_t i = 0; i < n; i++) {
        double sum = 0, *Li = m->Lp + i * m->ld;
        for (size_t j = 0; j < n; j++) {
            Li[j] = m->C[i * n + j];
            sum += m->C[i * n + j];
        }
        Li[i] -= sum;
        for (size_t j = 0; j < n; j++)
            m->LTp[j * m->ld + i] = Li[j];
    }
    memcpy(m->G, s->gain, ns * n * sizeof *m->G);
    if (s->data) {
        m->Y = malloc(nt * ns * sizeof *m->Y);
        if (!m->Y)
            goto nomem;
        memcpy(m->Y, s->data, nt * ns * sizeof *m->Y);
    }

    /* Parameter layout. */
    m->len_g[G_X0] = m->len_g[G_XI] = m->len_g[G_ZI] = n;
    m->len_g[G_OFF] = m->n_off;
    m->len_g[G_GIN] = n;
    size_t np = 0;
    static const int order[] = {G_X0, G_XI, G_ZI, G_GIN, -S_K - 1, -S_TAU0 - 1, -S_AMP - 1,
                                G_OFF, -S_EPS - 1};
    for (size_t q = 0; q < sizeof order / sizeof order[0]; q++) {
        int o = order[q];
        if (o >= 0) {
            const vbt_vep_group_prior *gp = group_prior(&m->pri, o);
            m->off_g[o] = gp->fixed ? -1 : (long)np;
            if (!gp->fixed)
                np += m->len_g[o];
        } else {
            int k = -o - 1;
            const vbt_vep_scalar_prior *sp = scalar_prior(&m->pri, k);
            m->off_s[k] = sp->fixed ? -1 : (long)np;
            if (!sp->fixed)
                np++;
            m->lognorm_s[k] = sp->dist == VBT_VEP_NORMAL
                                  ? vbt__log_upper_tail((sp->lo - sp->mu) / sp->sd)
                                  : 0.0;
        }
    }
    m->np = np;
    for (int g = 0; g < N_GROUP; g++) {
        const vbt_vep_group_prior *gp = group_prior(&m->pri, g);
        m->mu_g[g] = malloc(m->len_g[g] * sizeof(double));
        m->sd_g[g] = malloc(m->len_g[g] * sizeof(double));
        m->nu_g[g] = malloc(m->len_g[g] * sizeof(double));
        m->tc_g[g] = malloc(m->len_g[g] * sizeof(double));
        if (!m->mu_g[g] || !m->sd_g[g] || !m->nu_g[g] || !m->tc_g[g])
            goto nomem;
        for (size_t k = 0; k < m->len_g[g]; k++) {
            m->mu_g[g][k] = gp->mu;
            m->sd_g[g][k] = gp->sd;
            m->nu_g[g][k] = gp->nu;
        }
    }
    for (size_t e = 0; e < m->pri.n_ez; e++) {
        /* the hypothesis' own normal prior */
        m->mu_g[G_X0][m->pri.ez[e]] = m->pri.x0_ez_mu;
        m->sd_g[G_X0][m->pri.ez[e]] = m->pri.x0_ez_sd;
        m->nu_g[G_X0][m->pri.ez[e]] = 0.0;
    }
    for (int g = 0; g < N_GROUP; g++)
        for (size_t k = 0; k < m->len_g[g]; k++) {
            double nu = m->nu_g[g][k];
            /* log of N(0, 1)'s or t_nu's normalising constant */
            m->tc_g[g][k] = nu > 0 ? lgamma(0.5 * (nu + 1.0)) - lgamma(0.5 * nu) -
                                         0.5 * log(nu * M_PI)
                                   : -0.5 * log(2.0 * M_PI);
        }

    m->names = calloc(np ? np : 1, sizeof *m->names);
    if (!m->names)
        goto nomem;
    {
        static const char *gname[N_GROUP] = {"x0", "x_init", "z_init", "off",
                                             "log_input_gain"};
        static const char *sname[N_SCALAR] = {"K", "tau0", "amp", "eps"};
        for (int g = 0; g < N_GROUP; g++)
            if (m->off_g[g] >= 0)
                for (size_t k = 0; k < m->len_g[g]; k++) {
                    if (g == G_OFF && m->n_off == 1)
                        snprintf(m->names[m->off_g[g]], NAME_LEN, "off");
                    else
                        snprintf(m->names[(size_t)m->off_g[g] + k], NAME_LEN, "%s[%zu]", gname[g],
                                 k + 1);
                }
        for (int k = 0; k < N_SCALAR; k++)
            if (m->off_s[k] >= 0)
                snprintf(m->names[m->off_s[k]], NAME_LEN, "%s", sname[k]);
    }

    size_t nst = (nt - 1) * m->steps * (size_t)m->stages;
    size_t nst1 = nst ? nst : 1;
    m->nat = calloc(np + 1, sizeof(double));
    m->gnat = calloc(np + 1, sizeof(double));
    m->stY = malloc(nst1 * n * sizeof(double));
    m->stK = malloc(nst1 * n * sizeof(double));
    m->stLx = malloc(nst1 * n * sizeof(double));
    m->fw = malloc((1 + MAX_STAGES) * n * sizeof(double));
    m->X = malloc(nt * n * sizeof(double));
    m->P = malloc(nt * ns * sizeof(double));
    m->R = malloc(nt * ns * sizeof(double));
    m->E = malloc(nt * n * sizeof(double));
    m->dX = malloc(nt * n * sizeof(double));
    m->lam = malloc(2 * n * sizeof(double));
    m->Ybar = malloc(MAX_STAGES * 2 * n * sizeof(double));
    m->kbar = malloc(2 * n * sizeof(double));
    m->tmp = malloc(n * sizeof(double));
    m->x0 = malloc(n * sizeof(double));
    m->xi = malloc(n * sizeof(double));
    m->zi = malloc(n * sizeof(double));
    m->off = malloc(m->n_off * sizeof(double));
    m->gx0 = malloc(n * sizeof(double));
    m->goff = malloc(m->n_off * sizeof(double));
    m->gin = malloc(n * sizeof(double));
    m->ge = malloc(n * sizeof(double));
    m->ggin = malloc(n * sizeof(double));
    m->gaz = malloc(n * sizeof(double));
    if (s->obs == VBT_VEP_OBS_LOGPOWER && !(m->LP = malloc(nt * ns * sizeof(double))))
        goto nomem;
    m->ohat = malloc(m->n_off * sizeof(double));
    m->osd = malloc(m->n_off * sizeof(double));
    m->os2 = malloc(m->n_off * sizeof(double));
    if (!m->nat || !m->gnat || !m->stY || !m->stK || !m->stLx || !m->fw || !m->X || !m->P || !m->R ||
        !m->E || !m->dX || !m->lam || !m->Ybar || !m->kbar || !m->tmp || !m->x0 || !m->xi ||
        !m->zi || !m->off || !m->gx0 || !m->goff || !m->ohat || !m->osd || !m->os2 || !m->gin ||
        !m->ge || !m->ggin || !m->gaz)
        goto nomem;
    *out = m;
    return VBT_OK;
nomem:
    vbt_vep_free(m);
    return vbt__fail(msg, VBT_ENOMEM, "vep: out of memory (%zu regions, %zu sensors, %zu samples)",
                     n, ns, nt);
}

int vbt__vep_clone(const vbt_vep *m, vbt_vep **out, vbt_msg *msg)
{
    vbt_vep_spec s;
    vbt_vep_spec_default(&s);
    s.n_regions = m->n;
    s.n_sensors = m->ns;
    s.n_samples = m->nt;
    s.weights = m->C;
    s.normalize = VBT_NORMALIZE_NONE;
    s.gain = m->G;
    s.data = m->Y;
    s.scheme = m->scheme;
    s.dt = m->dt;
    s.steps = m->steps;
    s.obs = m->obs;
    s.I1 = m->I1;
    s.sig_x = m->sig_x;
    s.sig_w = m->sig_w;
    s.priors = m->pri;
    return vbt_vep_alloc(out, &s, msg);
}

size_t vbt_vep_n_params(const vbt_vep *m) { return m->np; }
size_t vbt_vep_n_regions(const vbt_vep *m) { return m->n; }
size_t vbt_vep_n_sensors(const vbt_vep *m) { return m->ns; }
size_t vbt_vep_n_samples(const vbt_vep *m) { return m->nt; }

const char *vbt_vep_param_name(const vbt_vep *m, size_t i)
{
    return i < m->np ? m->names[i] : NULL;
}

/* Group g and element k of theta index i; 0 when i is not a group element. */
static int group_elem(const vbt_vep *m, size_t i, int *g, size_t *k)
{
    for (int h = 0; m && h < N_GROUP; h++)
        if (m->off_g[h] >= 0 && i >= (size_t)m->off_g[h] && i < (size_t)m->off_g[h] + m->len_g[h]) {
            *g = h;
            *k = i - (size_t)m->off_g[h];
            return 1;
        }
    return 0;
}

double vbt_vep_param_scale(const vbt_vep *m, size_t i)
{
    int g;
    size_t k;
    return group_elem(m, i, &g, &k) ? m->sd_g[g][k] : NAN;
}

double vbt_vep_param_prior_mean(const vbt_vep *m, size_t i)
{
    int g;
    size_t k;
    return group_elem(m, i, &g, &k) ? m->mu_g[g][k] : NAN;
}

double vbt_vep_param_prior_sd(const vbt_vep *m, size_t i)
{
    int g;
    size_t k;
    if (!group_elem(m, i, &g, &k))
        return NAN;
    double nu = m->nu_g[g][k];
    if (nu == 0)
        return m->sd_g[g][k];
    return nu > 2 ? m->sd_g[g][k] * sqrt(nu / (nu - 2.0)) : INFINITY;
}

long vbt_vep_param_index(const vbt_vep *m, const char *name)
{
    if (!name)
        return -1;
    for (size_t i = 0; i < m->np; i++)
        if (strcmp(m->names[i], name) == 0)
            return (long)i;
    return -1;
}

/* ---- transforms ------------------------------------------------------- */

/* theta -> natural values through the non-centred and log transforms; with
 * marginal offsets their entries stay the prior's mu + sd u (unpack() does
 * not use them; vbt_vep_constrain() replaces them). */
static void transform(const vbt_vep *m, const double *theta, double *nat)
{
    for (int g = 0; g < N_GROUP; g++)
        if (m->off_g[g] >= 0)
            for (size_t k = 0; k < m->len_g[g]; k++) {
                size_t i = (size_t)m->off_g[g] + k;
                nat[i] = m->mu_g[g][k] + m->sd_g[g][k] * theta[i];
            }
    for (int k = 0; k < N_SCALAR; k++)
        if (m->off_s[k] >= 0) {
            size_t i = (size_t)m->off_s[k];
            nat[i] = scalar_prior(&m->pri, k)->lo + exp(theta[i]);
        }
}

static int mean_and_offsets(vbt_vep *m, const double *theta);

int vbt_vep_constrain(vbt_vep *m, const double *theta, double *nat)
{
    transform(m, theta, nat);
    if (!m->marg)
        return VBT_OK;
    size_t o = (size_t)m->off_g[G_OFF];
    int bad = mean_and_offsets(m, theta);
    for (size_t k = 0; k < m->n_off; k++)
        nat[o + k] = bad ? NAN : m->ohat[k] + m->osd[k] * theta[o + k];
    return bad ? VBT_ENUMERIC : VBT_OK;
}

int vbt_vep_unconstrain(vbt_vep *m, const double *nat, double *theta)
{
    for (int g = 0; g < N_GROUP; g++)
        if (m->off_g[g] >= 0)
            for (size_t k = 0; k < m->len_g[g]; k++) {
                size_t i = (size_t)m->off_g[g] + k;
                theta[i] = (nat[i] - m->mu_g[g][k]) / m->sd_g[g][k];
            }
    for (int k = 0; k < N_SCALAR; k++)
        if (m->off_s[k] >= 0) {
            size_t i = (size_t)m->off_s[k];
            double d = nat[i] - scalar_prior(&m->pri, k)->lo;
            if (!(d > 0))
                return VBT_ERANGE;
            theta[i] = log(d);
        }
    if (m->marg) {
        /* u = (off - E[off | rest]) / sd[off | rest]; the rest is already in theta */
        size_t o = (size_t)m->off_g[G_OFF];
        if (mean_and_offsets(m, theta))
            return VBT_ENUMERIC;
        for (size_t k = 0; k < m->n_off; k++)
            theta[o + k] = (nat[o + k] - m->ohat[k]) / m->osd[k];
    }
    return VBT_OK;
}

double vbt_vep_logprior(const vbt_vep *m, const double *theta, double *grad)
{
    const double lsq2pi = 0.5 * log(2.0 * M_PI);
    double lp = 0;
    for (int g = 0; g < N_GROUP; g++)
        if (m->off_g[g] >= 0)
            for (size_t k = 0; k < m->len_g[g]; k++) {
                size_t i = (size_t)m->off_g[g] + k;
                double r = theta[i], nu = m->nu_g[g][k];
                if (nu > 0) {
                    /* Student-t: -(nu + 1)/2 log(1 + r^2 / nu) */
                    lp += m->tc_g[g][k] - 0.5 * (nu + 1.0) * log1p(r * r / nu);
                    if (grad)
                        grad[i] = -(nu + 1.0) * r / (nu + r * r);
                } else {
                    lp += -0.5 * r * r + m->tc_g[g][k];
                    if (grad)
                        grad[i] = -r;
                }
            }
    for (int k = 0; k < N_SCALAR; k++)
        if (m->off_s[k] >= 0) {
            const vbt_vep_scalar_prior *sp = scalar_prior(&m->pri, k);
            size_t i = (size_t)m->off_s[k];
            double u = theta[i];
            if (sp->dist == VBT_VEP_NORMAL) {
                double p = sp->lo + exp(u), zz = (p - sp->mu) / sp->sd;
                lp += -0.5 * zz * zz - log(sp->sd) - lsq2pi - m->lognorm_s[k] + u;
                if (grad)
                    grad[i] = -zz / sp->sd * (p - sp->lo) + 1.0;
            } else {
                double zz = (u - sp->mu) / sp->sd;
                lp += -0.5 * zz * zz - log(sp->sd) - lsq2pi;
                if (grad)
                    grad[i] = -zz / sp->sd;
            }
        }
    return lp;
}

/* Natural values of every quantity the dynamics use (fixed ones included). */
static void unpack(vbt_vep *m, const double *theta, double *K, double *tau0, double *amp,
                   double *eps)
{
    transform(m, theta, m->nat);
    double *dst[N_GROUP] = {m->x0, m->xi, m->zi, m->off, m->gin};
    for (int g = 0; g < N_GROUP; g++)
        for (size_t k = 0; k < m->len_g[g]; k++)
            dst[g][k] = m->off_g[g] >= 0 && !(g == G_OFF && m->marg)
                            ? m->nat[(size_t)m->off_g[g] + k]
                            : m->mu_g[g][k]; /* marginal offsets: their prior mean */
    if (m->has_gin)
        for (size_t k = 0; k < m->n; k++)
            m->ge[k] = exp(m->gin[k]);
    double *sv[N_SCALAR] = {K, tau0, amp, eps};
    for (int k = 0; k < N_SCALAR; k++)
        *sv[k] = m->off_s[k] >= 0 ? m->nat[m->off_s[k]] : scalar_prior(&m->pri, k)->value;
}

/* ---- dynamics ----------------------------------------------------------- */

/* The coupling's products (matvec_lanes below): y = A^T x for A n x ld (row
 * j of A scaled by x_j, summed): y_i = sum_j x_j A_ji over j = 0, 1, .., n-1
 * in that order, so each element is the same serial sum whatever the vector
 * width of the clone that runs (and so the same bytes on every CPU).  L x
 * takes A = L^T and L^T x takes A = L.  The accumulators of a block of 32
 * elements stay in registers for the whole sweep over j.  rev visits the
 * blocks last to first: a matrix of 84 regions (59 kB) does not fit in L1
 * (32 kB), but alternating the direction from one call to the next starts
 * each call on the blocks the previous one left in L1 (the order of the
 * blocks does not change any element's sum).  At 84 regions a product takes
 * about half the time of OpenBLAS's dgemv inside the passes, a third when
 * called back to back alone. */
#define MV_BLOCK(W)                                                                          \
    VBT_NO_ASAN static inline void mv_block_##W(                                            \
        size_t n, size_t ld, const double *restrict A, const double *restrict x,             \
        double *restrict y, size_t m)                                                        \
    {                                                                                        \
        double acc[W];                                                                       \
        for (size_t u = 0; u < W; u++)                                                       \
            acc[u] = 0.0;                                                                    \
        for (size_t j = 0; j < n; j++) {                                                     \
            const double xj = x[j], *restrict a = A + j * ld;                                \
            _Pragma("omp simd") for (size_t u = 0; u < W; u++) acc[u] += xj * a[u];          \
        }                                                                                    \
        for (size_t u = 0; u < m; u++)                                                       \
            y[u] = acc[u];                                                                   \
    }
MV_BLOCK(8)
MV_BLOCK(16)
MV_BLOCK(24)
MV_BLOCK(32)

VBT_NO_ASAN static inline void mv_tail(size_t n, size_t ld, const double *restrict A,
                           const double *restrict x, double *restrict y, size_t i)
{
    switch (ld - i) {
    case 24: mv_block_24(n, ld, A + i, x, y + i, n - i); break;
    case 16: mv_block_16(n, ld, A + i, x, y + i, n - i); break;
    case 8: mv_block_8(n, ld, A + i, x, y + i, n - i); break;
    default: break;
    }
}

/* y[l] = A^T x[l] for B lanes l: block by block, every lane's product with
 * a block while the block is in L1 (a batch reads the matrix from L2 once
 * for all its lanes); each lane's numbers are those of a lone call.  Its
 * own clone, not inlined: inside a larger loop its accumulators spill. */
VBT_KERNEL static void matvec_lanes(size_t n, size_t ld, const double *restrict A, size_t B,
                                    const double *const *x, double *const *y, int rev)
{
    size_t nb = ld / 32, tail = nb * 32; /* full blocks of 32, then one of ld - tail */
    if (!rev) {
        for (size_t b = 0; b < nb; b++) {
            size_t cnt = 32 * b + 32 <= n ? 32 : n - 32 * b;
            for (size_t l = 0; l < B; l++)
                mv_block_32(n, ld, A + 32 * b, x[l], y[l] + 32 * b, cnt);
        }
        for (size_t l = 0; l < B; l++)
            mv_tail(n, ld, A, x[l], y[l], tail);
    } else {
        for (size_t l = 0; l < B; l++)
            mv_tail(n, ld, A, x[l], y[l], tail);
        for (size_t b = nb; b-- > 0;) {
            size_t cnt = 32 * b + 32 <= n ? 32 : n - 32 * b;
            for (size_t l = 0; l < B; l++)
                mv_block_32(n, ld, A + 32 * b, x[l], y[l] + 32 * b, cnt);
        }
    }
}

/* Forward pass of B lanes in lockstep (ms[l]: the lanes' models, one spec,
 * own workspaces; K, tau0: per lane; px, py: B pointers of scratch): fills
 * each lane's X and, for the reverse pass, every stage's x of Y_i (stY), z of
 * k_i = f(Y_i) (stK) and L x(Y_i) (stLx): all the reverse pass reads.  Each
 * lane does exactly the operations of a lone lane.  bad[l]: 0 when lane l's
 * trajectory is finite.  The product alternates its direction from one
 * stage to the next (see matvec_lanes). */
VBT_KERNEL static void forward_lanes(vbt_vep *const *ms, size_t B, const double *K,
                                     const double *tau0, const double **px, double **py,
                                     int *bad)
{
    const vbt_vep *m0 = ms[0];
    const size_t n = m0->n, S = m0->steps, ld = m0->ld, nt = m0->nt;
    const int st = m0->stages;
    const double h = m0->h, c1 = 1.0 + m0->I1;
    for (size_t l = 0; l < B; l++) {
        vbt_vep *m = ms[l];
        double *s = m->lam; /* the current state; lam is free during the forward pass */
        memcpy(s, m->xi, n * sizeof *s);
        memcpy(s + n, m->zi, n * sizeof *s);
        memcpy(m->X, s, n * sizeof *s);
    }
    size_t step = 0;
    for (size_t t = 1; t < nt; t++) {
        for (size_t q = 0; q < S; q++, step++) {
            const size_t o = step * (size_t)st * n;
            for (int i = 0; i < st; i++) {
                /* Y_i = s + h sum_j a_ij k_j */
                for (size_t l = 0; l < B; l++) {
                    vbt_vep *m = ms[l];
                    const double *restrict s = m->lam, *restrict kx = m->fw + n;
                    double *restrict yx = m->stY + o + i * n, *restrict yz = m->fw;
                    const double *Kb = m->stK + o;
                    memcpy(yx, s, n * sizeof *s);
                    memcpy(yz, s + n, n * sizeof *s);
                    for (int j = 0; j < i; j++) {
                        double c = h * m0->a[i][j];
                        if (c == 0.0)
                            continue;
                        const double *restrict kxj = kx + j * n, *restrict kzj = Kb + j * n;
                        for (size_t v = 0; v < n; v++)
                            yx[v] += c * kxj[v];
                        for (size_t v = 0; v < n; v++)
                            yz[v] += c * kzj[v];
                    }
                    px[l] = yx;
                    py[l] = m->stLx + o + i * n;
                }
                matvec_lanes(n, ld, m0->LTp, B, px, py, (int)((step * (size_t)st + (size_t)i) & 1));
                /* k_i = f(Y_i) */
                for (size_t l = 0; l < B; l++) {
                    vbt_vep *m = ms[l];
                    const double itau = 1.0 / tau0[l], Kl = K[l];
                    const double *restrict yx = m->stY + o + i * n, *restrict yz = m->fw,
                                           *restrict Lx = m->stLx + o + i * n,
                                           *restrict x0 = m->x0;
                    double *restrict kxi = m->fw + n + i * n, *restrict kzi = m->stK + o + i * n;
                    if (m->has_gin) {
                        const double *restrict ge = m->ge;
#pragma omp simd
                        for (size_t v = 0; v < n; v++) {
                            double xv = yx[v];
                            kxi[v] = c1 - xv * xv * xv - 2.0 * xv * xv - yz[v];
                            kzi[v] = itau * (4.0 * (xv - x0[v]) - yz[v] - Kl * ge[v] * Lx[v]);
                        }
                        continue;
                    }
#pragma omp simd
                    for (size_t v = 0; v < n; v++) {
                        double xv = yx[v];
                        kxi[v] = c1 - xv * xv * xv - 2.0 * xv * xv - yz[v];
                        kzi[v] = itau * (4.0 * (xv - x0[v]) - yz[v] - Kl * Lx[v]);
                    }
                }
            }
            for (size_t l = 0; l < B; l++) {
                vbt_vep *m = ms[l];
                double *restrict s = m->lam;
                for (int i = 0; i < st; i++) {
                    double c = h * m0->b[i];
                    const double *restrict kxi = m->fw + n + i * n,
                                           *restrict kzi = m->stK + o + i * n;
                    for (size_t v = 0; v < n; v++)
                        s[v] += c * kxi[v];
                    for (size_t v = 0; v < n; v++)
                        s[n + v] += c * kzi[v];
                }
            }
        }
        for (size_t l = 0; l < B; l++)
            memcpy(ms[l]->X + t * n, ms[l]->lam, n * sizeof(double));
    }
    for (size_t l = 0; l < B; l++)
        bad[l] = all_finite(ms[l]->X, nt * n) && all_finite(ms[l]->lam, 2 * n) ? 0 : -1;
}

/* One lane: 0 when the trajectory is finite. */
static int forward(vbt_vep *m, double K, double tau0)
{
    const double *px[1];
    double *py[1];
    int bad;
    forward_lanes(&m, 1, &K, &tau0, px, py, &bad);
    return bad;
}

/* Marginal offsets: per offset group g (sensor s over time, or every
 * observation for the one log-power offset; T_g observations) the sums of
 * d = y - mu and d^2, where R holds mu with every offset at its prior mean
 * m_g.  Integrating off_g ~ N(m_g, c_g) out of N(d + m_g - off_g; 0, eps^2)
 * gives N(d; 0, eps^2 I + c_g 1 1'), whose log density (determinant lemma
 * and Sherman-Morrison, D_g = eps^2 + T_g c_g) is
 *   -T/2 log 2 pi - (T - 1) log eps - 1/2 log D - (S2 - c S1^2 / D) / (2 eps^2),
 * and off_g | rest ~ N(m_g + c S1 / D, c eps^2 / D) (into ohat, osd).
 * With ll (not NULL) returns that log likelihood, d ll / d eps into *ge, and
 * with want_grad R becomes d ll / d mu = (d - c S1 / D) / eps^2. */
static void marginal_offsets(vbt_vep *m, double eps, int want_grad, double *ll, double *ge)
{
    size_t nt = m->nt, ns = m->ns, ng = m->n_off;
    size_t T = ng == 1 ? nt * ns : nt;
    double *restrict S1 = m->ohat, *restrict S2 = m->os2, *restrict R = m->R, e2 = eps * eps;
    const double *restrict Y = m->Y;
    memset(S1, 0, ng * sizeof *S1);
    memset(S2, 0, ng * sizeof *S2);
    if (Y && ng == 1) {
        /* one group: a vector reduction (a serial sum through S1[0] is bound
         * by the latency of its additions; the order is fixed by the build) */
        double s1 = 0, s2 = 0;
        const size_t nts = nt * ns;
#pragma omp simd reduction(+ : s1, s2)
        for (size_t k = 0; k < nts; k++) {
            double d = Y[k] - R[k];
            s1 += d;
            s2 += d * d;
        }
        S1[0] = s1;
        S2[0] = s2;
    } else if (Y) {
        for (size_t t = 0; t < nt; t++) {
            const double *Yt = Y + t * ns, *Rt = R + t * ns;
#pragma omp simd
            for (size_t s = 0; s < ns; s++) {
                double d = Yt[s] - Rt[s];
                S1[s] += d;
                S2[s] += d * d;
            }
        }
    }
    double l = 0, dl = 0, Tn = Y ? (double)T : 0.0;
    for (size_t g = 0; g < ng; g++) {
        double c = m->sd_g[G_OFF][g] * m->sd_g[G_OFF][g], D = e2 + Tn * c, s1 = S1[g];
        double Q = S2[g] - c * s1 * s1 / D;
        l += -0.5 * Tn * log(2.0 * M_PI) - (Tn - 1.0) * log(eps) - 0.5 * log(D) - 0.5 * Q / e2;
        dl += -(Tn - 1.0) / eps - eps / D + Q / (e2 * eps) - c * s1 * s1 / (eps * D * D);
        S1[g] = c * s1 / D; /* the shift of the conditional mean */
        m->osd[g] = sqrt(c * e2 / D);
    }
    if (want_grad) {
        double ie2 = 1.0 / e2;
        if (ng == 1) {
            double sh = S1[0];
            for (size_t k = 0; k < nt * ns; k++)
                R[k] = (Y[k] - R[k] - sh) * ie2;
        } else {
            for (size_t t = 0; t < nt; t++) {
                const double *Yt = Y + t * ns;
                double *Rt = R + t * ns;
#pragma omp simd
                for (size_t s = 0; s < ns; s++)
                    Rt[s] = (Yt[s] - Rt[s] - S1[s]) * ie2;
            }
        }
    }
    for (size_t g = 0; g < ng; g++)
        m->ohat[g] = m->off[g] + S1[g]; /* off holds the prior means here */
    if (ll) {
        *ll = l;
        *ge = dl;
    }
}

/* Observation: P and mu (into R); returns the log likelihood when Y is set.
 * With grad, R becomes (y - mu) / eps^2 and dX, the natural gradients of
 * amp, off and eps are accumulated into *gamp, goff, *geps.
 *   linear:   P = X G^T,          mu = amp P + off[s]
 *   logpower: P = exp(X) G^T,     mu = amp log P + off
 *   power:    P = exp(amp X) G^T, mu = log P + off[s]
 *   seizure:  P = S(X) G^T,       mu = amp P + off[s], S(x) = 1 / (1 + e^-(x - c)/w)
 * (E holds exp(X), exp(amp X) or S(X)). */
static double observe(vbt_vep *m, double amp, double eps, int want_grad, double *gamp,
                      double *goff, double *geps)
{
    size_t n = m->n, ns = m->ns, nt = m->nt;
    const vbt_vep_obs obs = m->obs;
    const double *src = m->X;
    if (obs == VBT_VEP_OBS_SEIZURE) {
        double c = m->sig_x, iw = 1.0 / m->sig_w;
        for (size_t k = 0; k < nt * n; k++)
            m->E[k] = 1.0 / (1.0 + exp(-(m->X[k] - c) * iw));
        src = m->E;
    } else if (obs != VBT_VEP_OBS_LINEAR) {
        double a = obs == VBT_VEP_OBS_POWER ? amp : 1.0;
        for (size_t k = 0; k < nt * n; k++)
            m->E[k] = exp(a * m->X[k]);
        src = m->E;
    }
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nt, (int)ns, (int)n, 1.0, src,
                (int)n, m->G, (int)n, 0.0, m->P, (int)ns);
    /* the mean of every observation, one loop per model (no branch inside) */
    const double *P = m->P, *off = m->off;
    double *R = m->R;
    if (obs == VBT_VEP_OBS_LOGPOWER) {
        double *LP = m->LP;
        for (size_t k = 0; k < nt * ns; k++) {
            LP[k] = log(P[k]);
            R[k] = amp * LP[k] + off[0];
        }
    } else if (obs == VBT_VEP_OBS_POWER) {
        for (size_t t = 0; t < nt; t++)
            for (size_t s = 0; s < ns; s++)
                R[t * ns + s] = log(P[t * ns + s]) + off[s];
    } else {
        for (size_t t = 0; t < nt; t++)
            for (size_t s = 0; s < ns; s++)
                R[t * ns + s] = amp * P[t * ns + s] + off[s];
    }
    if (!m->Y)
        return 0.0;
    double ll, ie2 = 1.0 / (eps * eps), ss = 0, ga = 0, ge;
    const size_t nts = nt * ns;
    if (m->marg) {
        marginal_offsets(m, eps, want_grad, &ll, &ge);
        goto fold;
    }
    /* residuals; with the gradient, R becomes d ll / d mu = (y - mu) / eps^2 */
    /* The sums below are vector reductions (omp simd): a serial sum is bound
     * by the latency of one addition per element; the order is fixed by the
     * build, so results stay reproducible. */
    const double *Y = m->Y;
    if (want_grad) {
#pragma omp simd reduction(+ : ss)
        for (size_t k = 0; k < nts; k++) {
            double d = Y[k] - R[k];
            ss += d * d;
            R[k] = d * ie2;
        }
    } else {
#pragma omp simd reduction(+ : ss)
        for (size_t k = 0; k < nts; k++) {
            double d = Y[k] - R[k];
            ss += d * d;
        }
    }
    ll = -0.5 * ss * ie2 - (double)nts * (log(eps) + 0.5 * log(2.0 * M_PI));
    ge = ss * ie2 / eps - (double)nts / eps;
fold:
    if (want_grad) {
        /* fold d mu / d P into R, and gather d ll / d amp and d ll / d off
         * (goff is meaningless with marginal offsets; vbt_vep_logp drops it) */
        if (obs == VBT_VEP_OBS_LOGPOWER) {
            double go = 0;
            const double *LP = m->LP;
#pragma omp simd reduction(+ : ga, go)
            for (size_t k = 0; k < nts; k++) {
                ga += R[k] * LP[k];
                go += R[k];
                R[k] /= P[k];
            }
            goff[0] += go;
        } else if (obs == VBT_VEP_OBS_POWER) { /* amp enters through E, below */
            for (size_t t = 0; t < nt; t++)
                for (size_t s = 0; s < ns; s++) {
                    goff[s] += R[t * ns + s];
                    R[t * ns + s] /= P[t * ns + s];
                }
        } else {
            for (size_t t = 0; t < nt; t++) {
                const double *Rt = R + t * ns, *Pt = P + t * ns;
#pragma omp simd reduction(+ : ga)
                for (size_t s = 0; s < ns; s++) {
                    ga += Rt[s] * Pt[s];
                    goff[s] += Rt[s];
                }
            }
        }
    }
    if (want_grad) {
        *geps += ge;
        /* dX = (R G) * d(src)/dX, with dmu/dP folded into R above */
        double scale = obs == VBT_VEP_OBS_POWER ? 1.0 : amp;
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)nt, (int)n, (int)ns, scale,
                    m->R, (int)ns, m->G, (int)n, 0.0, m->dX, (int)n);
        if (obs == VBT_VEP_OBS_LOGPOWER) {
            for (size_t k = 0; k < nt * n; k++)
                m->dX[k] *= m->E[k];
        } else if (obs == VBT_VEP_OBS_SEIZURE) {
            double iw = 1.0 / m->sig_w; /* S' = S (1 - S) / w */
            for (size_t k = 0; k < nt * n; k++)
                m->dX[k] *= m->E[k] * (1.0 - m->E[k]) * iw;
        } else if (obs == VBT_VEP_OBS_POWER) {
            /* d/d amp of exp(amp x) is x exp(amp x); d/dx is amp exp(amp x) */
            for (size_t k = 0; k < nt * n; k++) {
                double w = m->dX[k] * m->E[k];
                ga += w * m->X[k];
                m->dX[k] = amp * w;
            }
        }
        *gamp += ga;
    }
    return ll;
}

/* Ybar = J(Y)^T kbar for one stage, given tmp = L^T az (L^T (ge az) with
 * input gains ge); accumulates dL/dx0, dL/dK, dL/dtau0 and with ge dL/dgin
 * into ggin (x: x of Y, fz: z of k, Lx: L x(Y)). */
static inline void stage_vjp(size_t n, const double *restrict x, const double *restrict fz,
                             const double *restrict Lx, const double *restrict kbar, double K,
                             double itau, const double *restrict tmp, double *restrict Ybar,
                             double *restrict gx0, double *gK, double *gtau,
                             const double *restrict ge, double *restrict ggin)
{
    const double *ax = kbar, *az = kbar + n;
    double sK = 0, sT = 0;
    if (ge) {
        for (size_t i = 0; i < n; i++) {
            double xi = x[i], gl = az[i] * ge[i] * Lx[i];
            Ybar[i] = ax[i] * (-3.0 * xi * xi - 4.0 * xi) + itau * (4.0 * az[i] - K * tmp[i]);
            Ybar[n + i] = -ax[i] - itau * az[i];
            gx0[i] -= 4.0 * itau * az[i];
            sK += gl;
            ggin[i] -= itau * K * gl;
            sT += az[i] * fz[i];
        }
        *gK -= itau * sK;
        *gtau -= itau * sT;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        double xi = x[i];
        Ybar[i] = ax[i] * (-3.0 * xi * xi - 4.0 * xi) + itau * (4.0 * az[i] - K * tmp[i]);
        Ybar[n + i] = -ax[i] - itau * az[i];
        gx0[i] -= 4.0 * itau * az[i];
        sK += az[i] * Lx[i];
        sT += az[i] * fz[i];
    }
    *gK -= itau * sK;
    *gtau -= itau * sT;
}

/* Reverse pass of B lanes in lockstep (after forward_lanes; lane l's dX is
 * dL/dx at the samples): each lane's lam (2n) becomes dL/d(initial state);
 * accumulates each lane's gx0 and gK[l], gtau[l].  px, py: B pointers of
 * scratch.  Each lane does exactly the operations of a lone lane. */
VBT_KERNEL static void reverse_lanes(vbt_vep *const *ms, size_t B, const double *K,
                                     const double *itau, double *gK, double *gtau,
                                     const double **px, double **py)
{
    const vbt_vep *m0 = ms[0];
    const size_t n = m0->n, ns2 = 2 * n, S = m0->steps, ld = m0->ld;
    const int st = m0->stages;
    const double h = m0->h;
    for (size_t l = 0; l < B; l++)
        memset(ms[l]->lam, 0, ns2 * sizeof(double));
    size_t step = (m0->nt - 1) * S;
    for (size_t t = m0->nt - 1; t >= 1; t--) {
        for (size_t l = 0; l < B; l++) {
            double *restrict lam = ms[l]->lam;
            const double *restrict dxt = ms[l]->dX + t * n;
            for (size_t i = 0; i < n; i++)
                lam[i] += dxt[i];
        }
        for (size_t q = 0; q < S; q++) {
            step--;
            const size_t o = step * (size_t)st * n;
            for (int i = st - 1; i >= 0; i--) {
                double c = h * m0->b[i];
                for (size_t l = 0; l < B; l++) {
                    vbt_vep *m = ms[l];
                    const double *restrict lam = m->lam;
                    double *restrict kb = m->kbar;
                    for (size_t v = 0; v < ns2; v++)
                        kb[v] = c * lam[v];
                    for (int j = i + 1; j < st; j++) {
                        double cj = h * m0->a[j][i];
                        if (cj == 0.0)
                            continue;
                        const double *restrict Yj = m->Ybar + j * ns2;
                        for (size_t v = 0; v < ns2; v++)
                            kb[v] += cj * Yj[v];
                    }
                    px[l] = kb + n;
                    py[l] = m->tmp;
                    if (m->has_gin) {
                        for (size_t v = 0; v < n; v++)
                            m->gaz[v] = m->ge[v] * kb[n + v];
                        px[l] = m->gaz;
                    }
                }
                /* tmp = L^T az (L^T (ge az) with input gains) */
                matvec_lanes(n, ld, m0->Lp, B, px, py, (int)((step * (size_t)st + (size_t)i) & 1));
                for (size_t l = 0; l < B; l++) {
                    vbt_vep *m = ms[l];
                    stage_vjp(n, m->stY + o + i * n, m->stK + o + i * n, m->stLx + o + i * n,
                              m->kbar, K[l], itau[l], m->tmp, m->Ybar + i * ns2, m->gx0,
                              &gK[l], &gtau[l], m->has_gin ? m->ge : NULL, m->ggin);
                }
            }
            for (size_t l = 0; l < B; l++) {
                double *restrict lam = ms[l]->lam;
                for (int i = 0; i < st; i++) {
                    const double *restrict Yi = ms[l]->Ybar + i * ns2;
                    for (size_t v = 0; v < ns2; v++)
                        lam[v] += Yi[v];
                }
            }
        }
    }
    for (size_t l = 0; l < B; l++)
        for (size_t i = 0; i < n; i++)
            ms[l]->lam[i] += ms[l]->dX[i];
}

/* Per-lane scalars of logp_lanes (B of each). */
typedef struct lane_ws {
    double *K, *tau0, *amp, *eps, *itau, *gK, *gtau, *gamp, *geps;
    int *bad;
    vbt_vep **act; /* the lanes that go through the reverse pass */
    const double **px;
    double **py;
} lane_ws;

/* The log posterior (and with grads, the gradients) of B lanes: lane l is
 * model ms[l] (one spec, own workspaces) at thetas[l]; the dynamics of every
 * lane advance together (forward_lanes, reverse_lanes), the observation and
 * the prior lane by lane.  Lane l gives the same bytes as a lone call.
 * grads NULL: values only.  VBT_OK, or VBT_ENUMERIC when some lane is not
 * finite (its lp -HUGE_VAL, its gradient zeroed). */
static int logp_lanes(vbt_vep *const *ms, size_t B, const double *const *thetas, double *lps,
                      double *const *grads, const lane_ws *w)
{
    const vbt_vep *m0 = ms[0];
    const size_t n = m0->n, np = m0->np;
    int ret = VBT_OK;
    for (size_t l = 0; l < B; l++)
        unpack(ms[l], thetas[l], &w->K[l], &w->tau0[l], &w->amp[l], &w->eps[l]);
    forward_lanes(ms, B, w->K, w->tau0, w->px, w->py, w->bad);
    size_t na = 0;
    for (size_t l = 0; l < B; l++) {
        if (w->bad[l])
            continue;
        vbt_vep *m = ms[l];
        double *grad = grads ? grads[l] : NULL;
        double amp = w->amp[l], eps = w->eps[l], gamp = 0, geps = 0, ll;
        double *goff = m->goff;
        if (grad) {
            memset(goff, 0, m->n_off * sizeof *goff);
            memset(m->gx0, 0, n * sizeof *m->gx0);
            memset(m->ggin, 0, n * sizeof *m->ggin);
            ll = observe(m, amp, eps, 1, &gamp, goff, &geps);
        } else {
            ll = observe(m, amp, eps, 0, NULL, NULL, NULL);
        }
        if (m->pri.lik_weight > 0 && m->pri.lik_weight != 1) {
            /* tempered likelihood: ll^w, so every likelihood gradient scales by w */
            double wt = m->pri.lik_weight;
            ll *= wt;
            if (grad) {
                for (size_t k = 0; k < m->nt * n; k++)
                    m->dX[k] *= wt;
                for (size_t k = 0; k < m->n_off; k++)
                    goff[k] *= wt;
                gamp *= wt;
                geps *= wt;
            }
        }
        if (grad && m->marg)
            memset(goff, 0, m->n_off * sizeof *goff); /* the likelihood does not depend on u */
        /* the prior and, with grad, its gradient (added to grad at the end) */
        lps[l] = ll + vbt_vep_logprior(m, thetas[l], grad ? m->gnat : NULL);
        if (!isfinite(lps[l])) {
            w->bad[l] = -1;
            continue;
        }
        if (grad) {
            w->gamp[l] = gamp;
            w->geps[l] = geps;
            w->act[na] = m;
            w->K[na] = w->K[l]; /* compacted: lane l's scalars at na <= l */
            w->itau[na] = 1.0 / w->tau0[l];
            w->gK[na] = 0;
            w->gtau[na] = 0;
            na++;
        }
    }
    if (grads && na)
        reverse_lanes(w->act, na, w->K, w->itau, w->gK, w->gtau, w->px, w->py);
    /* Chain rule to theta; then add the prior's gradient. */
    for (size_t l = 0, a = 0; grads && l < B; l++) {
        if (w->bad[l])
            continue;
        vbt_vep *m = ms[l];
        double *grad = grads[l], *lam = m->lam, K = w->K[a], tau0 = w->tau0[l];
        const double *gnatg[N_GROUP] = {m->gx0, lam, lam + n, m->goff, m->ggin};
        for (int g = 0; g < N_GROUP; g++)
            if (m->off_g[g] >= 0)
                for (size_t k = 0; k < m->len_g[g]; k++)
                    grad[(size_t)m->off_g[g] + k] = gnatg[g][k] * m->sd_g[g][k];
        double gs[N_SCALAR] = {w->gK[a], w->gtau[a], w->gamp[l], w->geps[l]};
        double ps[N_SCALAR] = {K, tau0, w->amp[l], w->eps[l]};
        for (int k = 0; k < N_SCALAR; k++)
            if (m->off_s[k] >= 0)
                grad[m->off_s[k]] = gs[k] * (ps[k] - scalar_prior(&m->pri, k)->lo);
        for (size_t i = 0; i < np; i++)
            grad[i] += m->gnat[i];
        if (!all_finite(grad, np))
            w->bad[l] = -1;
        a++;
    }
    for (size_t l = 0; l < B; l++)
        if (w->bad[l]) {
            lps[l] = -HUGE_VAL;
            if (grads)
                memset(grads[l], 0, np * sizeof(double));
            ret = VBT_ENUMERIC;
        }
    return ret;
}

/* lane_ws for B lanes on mem (lane_ws_bytes(B) bytes). */
static size_t lane_ws_bytes(size_t B)
{
    return 9 * B * sizeof(double) + 5 * B * sizeof(void *) + B * sizeof(int);
}

static void lane_ws_on(void *mem, size_t B, lane_ws *w, const double ***th, double ***gr)
{
    double *d = mem;
    double **dv[9] = {&w->K, &w->tau0, &w->amp, &w->eps, &w->itau, &w->gK, &w->gtau, &w->gamp,
                      &w->geps};
    for (int k = 0; k < 9; k++)
        *dv[k] = d + (size_t)k * B;
    void **pv = (void **)(d + 9 * B);
    w->act = (vbt_vep **)pv;
    w->px = (const double **)(pv + B);
    w->py = (double **)(pv + 2 * B);
    *th = (const double **)(pv + 3 * B);
    *gr = (double **)(pv + 4 * B);
    w->bad = (int *)(pv + 5 * B);
}

/* At least B lanes: clones of m made on first use and kept for later calls. */
static int lanes_reserve(vbt_vep *m, size_t B)
{
    if (B <= m->n_lane)
        return VBT_OK;
    void *mem = malloc(lane_ws_bytes(B));
    vbt_vep **lane = mem ? realloc(m->lane, B * sizeof *lane) : NULL;
    if (!lane) {
        free(mem);
        return VBT_ENOMEM;
    }
    m->lane = lane;
    lane[0] = m;
    size_t have = m->n_lane ? m->n_lane : 1;
    for (size_t l = have; l < B; l++)
        if (vbt__vep_clone(m, &lane[l], NULL)) {
            for (size_t k = have; k < l; k++)
                vbt_vep_free(lane[k]);
            free(mem);
            return VBT_ENOMEM;
        }
    free(m->lane_mem);
    m->lane_mem = mem;
    m->n_lane = B;
    return VBT_OK;
}

int vbt_vep_logp_batch(vbt_vep *m, size_t B, const double *theta, double *lp, double *grad)
{
    if (B == 0)
        return VBT_OK;
    int st = !m->Y ? VBT_EINVAL : lanes_reserve(m, B);
    if (st) {
        for (size_t l = 0; l < B; l++)
            lp[l] = -HUGE_VAL;
        if (grad)
            memset(grad, 0, B * m->np * sizeof *grad);
        return st;
    }
    lane_ws w;
    const double **th;
    double **gr;
    lane_ws_on(m->lane_mem, m->n_lane, &w, &th, &gr);
    for (size_t l = 0; l < B; l++) {
        th[l] = theta + l * m->np;
        gr[l] = grad ? grad + l * m->np : NULL;
    }
    return logp_lanes(m->lane, B, th, lp, grad ? gr : NULL, &w);
}

int vbt_vep_logp(vbt_vep *m, const double *theta, double *lp, double *grad)
{
    if (!m->Y) {
        *lp = -HUGE_VAL;
        return VBT_EINVAL;
    }
    double K, tau0, amp, eps, itau, gK = 0, gtau = 0, gamp = 0, geps = 0;
    int bad;
    vbt_vep *act;
    const double *px;
    double *py;
    lane_ws w = {&K, &tau0, &amp, &eps, &itau, &gK, &gtau, &gamp, &geps, &bad, &act, &px, &py};
    return logp_lanes(&m, 1, &theta, lp, grad ? &grad : NULL, &w);
}

/* The observation's mean into R, with marginal offsets at their prior
 * means; then ohat, osd: the offsets' conditional mean and sd given the
 * rest of theta (the prior's without data).  -1 when the trajectory is not
 * finite. */
static int mean_and_offsets(vbt_vep *m, const double *theta)
{
    double K, tau0, amp, eps;
    unpack(m, theta, &K, &tau0, &amp, &eps);
    int bad = forward(m, K, tau0);
    double *Y = m->Y;
    m->Y = NULL;
    observe(m, amp, eps, 0, NULL, NULL, NULL);
    m->Y = Y;
    if (m->marg && !bad)
        marginal_offsets(m, eps, 0, NULL, NULL);
    return bad ? -1 : 0;
}

int vbt_vep_simulate(vbt_vep *m, const double *theta, double *x_out, double *y_out)
{
    int bad = mean_and_offsets(m, theta);
    if (x_out)
        memcpy(x_out, m->X, m->nt * m->n * sizeof *x_out);
    if (y_out) {
        size_t nt = m->nt, ns = m->ns;
        if (m->marg && !bad) {
            /* the offsets theta stands for: E[off | rest] + sd[off | rest] u */
            const double *u = theta + m->off_g[G_OFF];
            for (size_t t = 0; t < nt; t++)
                for (size_t s = 0; s < ns; s++) {
                    size_t g = m->n_off == 1 ? 0 : s;
                    m->R[t * ns + s] += m->ohat[g] - m->off[g] + m->osd[g] * u[g];
                }
        }
        memcpy(y_out, m->R, nt * ns * sizeof *y_out);
    }
    return bad ? VBT_ENUMERIC : VBT_OK;
}

void vbt_vep_prior_draw(const vbt_vep *m, uint64_t seed, uint64_t stream, double *theta)
{
    vbt_rng r;
    vbt_rng_init(&r, seed, stream);
    for (int g = 0; g < N_GROUP; g++)
        if (m->off_g[g] >= 0) {
            double *t = theta + m->off_g[g];
            vbt_rng_normal(&r, t, m->len_g[g]);
            /* Student-t elements: the same draw through Phi and the t
             * quantile (the tail side keeps its precision), so normal
             * elements get the numbers they always got */
            for (size_t k = 0; k < m->len_g[g]; k++) {
                double nu = m->nu_g[g][k];
                if (nu > 0)
                    t[k] = t[k] > 0 ? gsl_cdf_tdist_Qinv(gsl_cdf_ugaussian_Q(t[k]), nu)
                                    : gsl_cdf_tdist_Pinv(gsl_cdf_ugaussian_P(t[k]), nu);
            }
        }
    for (int k = 0; k < N_SCALAR; k++)
        if (m->off_s[k] >= 0) {
            const vbt_vep_scalar_prior *sp = scalar_prior(&m->pri, k);
            double u;
            size_t i = (size_t)m->off_s[k];
            if (sp->dist == VBT_VEP_LOGNORMAL) {
                vbt_rng_normal(&r, &u, 1);
                theta[i] = sp->mu + sp->sd * u;
            } else {
                /* inversion of the upper tail: z = Qinv(u Q(a)) > a */
                vbt_rng_uniform(&r, &u, 1);
                double a = (sp->lo - sp->mu) / sp->sd;
                double z = gsl_cdf_ugaussian_Qinv(u * gsl_cdf_ugaussian_Q(a));
                if (!(z > a) || !isfinite(z))
                    z = a + 1e-3;
                theta[i] = log(sp->sd * (z - a));
            }
        }
}

vbt_vep_class vbt_vep_x0_class(double x0)
{
    return x0 >= VBT_VEP_X0_EZ ? VBT_VEP_EZ : x0 >= VBT_VEP_X0_PZ ? VBT_VEP_PZ : VBT_VEP_HZ;
}

const char *vbt_vep_class_name(vbt_vep_class c)
{
    return c == VBT_VEP_EZ ? "EZ" : c == VBT_VEP_PZ ? "PZ" : "HZ";
}

/* Data-informed starting x0 (see vbt_vep.h): back-projection of each
 * sensor's rise above its baseline through |G|. */
int vbt_vep_x0_from_data(const vbt_vep *m, size_t baseline, double x0_hi, double *x0)
{
    if (!m || !x0 || !m->Y)
        return VBT_EINVAL;
    size_t n = m->n, ns = m->ns, nt = m->nt, nb = baseline < 1 ? 1 : baseline > nt ? nt : baseline;
    double *rise = malloc((ns + nb) * sizeof *rise), *tmp = rise + ns;
    if (!rise)
        return VBT_ENOMEM;
    for (size_t s = 0; s < ns; s++) {
        double mx = -HUGE_VAL;
        for (size_t t = 0; t < nt; t++)
            mx = fmax(mx, m->Y[t * ns + s]);
        for (size_t t = 0; t < nb; t++)
            tmp[t] = m->Y[t * ns + s];
        /* median of the baseline by insertion sort (nb is small) */
        for (size_t i = 1; i < nb; i++)
            for (size_t j = i; j > 0 && tmp[j - 1] > tmp[j]; j--) {
                double v = tmp[j];
                tmp[j] = tmp[j - 1];
                tmp[j - 1] = v;
            }
        double b = nb % 2 ? tmp[nb / 2] : 0.5 * (tmp[nb / 2 - 1] + tmp[nb / 2]);
        rise[s] = fmax(mx - b, 0.0);
    }
    double lo = HUGE_VAL, hi = -HUGE_VAL;
    for (size_t i = 0; i < n; i++) {
        double num = 0, den = 0;
        for (size_t s = 0; s < ns; s++) {
            double g = fabs(m->G[s * n + i]);
            num += g * rise[s];
            den += g;
        }
        x0[i] = den > 0 ? num / den : 0.0;
        lo = fmin(lo, x0[i]);
        hi = fmax(hi, x0[i]);
    }
    free(rise);
    for (size_t i = 0; i < n; i++) {
        double a = hi > lo ? (x0[i] - lo) / (hi - lo) : 0.0, mu = m->mu_g[G_X0][i];
        x0[i] = mu + a * a * (x0_hi - mu);
    }
    return VBT_OK;
}

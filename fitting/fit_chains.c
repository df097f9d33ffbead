/* fit_chains.c -- a NUTS fit's chains run apart (vbt_fit.h, "chains
 * apart"): each chain alone in its own process, from the MAP stage and the
 * starts that a checkpoint of the fit holds, saved to a checkpoint of its
 * own; then the chains' files merged into one checkpoint in which every
 * chain has ended, from which vbt_fit_resume() + vbt_fit_run() give the
 * outputs of an uninterrupted run.
 *
 * Why this gives the same draws: chain c of vbt_nuts_sample() is a
 * sampler (vbt_nuts.h) initialised at the run's start c with the stream
 * (seed, c) and the run's initial metric, then iterated; nothing it does
 * depends on the other chains.  vbt_fit_run_chain() builds that sampler
 * with the options run_nuts() (fit_sample.c) gives it, and the merged
 * checkpoint's states are loaded by vbt_nuts_sample(), which refuses a
 * state saved with other options (vbt_nuts_state_load), so a drift
 * between the two is an error, never a silent difference. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fit_internal.h"

/* Chain c's state (after `it` transitions) into k, and k written. */
static int save_chain(fit_ckpt *k, size_t c, size_t it, const vbt_nuts *s, size_t len,
                      vbt_msg *msg)
{
    if (k->state_len[c] != len || !k->state[c]) {
        unsigned char *q = realloc(k->state[c], len);
        if (!q)
            return vbt__fail(msg, VBT_ENOMEM, "out of memory");
        k->state[c] = q;
        k->state_len[c] = len;
    }
    if (vbt_nuts_state_save(s, k->state[c], len))
        return vbt__fail(msg, VBT_EINVAL, "fit chain: cannot save chain %zu", c + 1);
    k->iter[c] = it;
    return fit__ckpt_write(k, msg);
}

int vbt_fit_run_chain(vbt_fit *f, size_t chain, const char *path, vbt_msg *msg)
{
    if (!f || !path)
        return vbt__fail(msg, VBT_EINVAL, "fit chain: NULL argument");
    if (!f->is_nuts || f->ran || !f->resumed || !f->ck || !f->ck->inits)
        return vbt__fail(msg, VBT_EINVAL, "fit chain: a NUTS fit resumed from a checkpoint "
                         "that holds its starts, before its run");
    if (chain >= f->n_chains)
        return vbt__fail(msg, VBT_EINVAL, "fit chain: chain %zu of %zu", chain + 1,
                         f->n_chains);
    f->ran = 1;
    fit_ckpt *k = f->ck;
    const size_t np = f->np, D = f->n_draws, W = f->o.warmup, total = W + D;
    char *p = strdup(path);
    if (!p)
        return vbt__fail(msg, VBT_ENOMEM, "out of memory");
    free(k->path);
    k->path = p;
    int st;
    if (f->from_map && (st = fit__run_map(f, msg))) /* from the checkpoint */
        return st;
    const int use_cov = k->cov != NULL;
    vbt_nuts_opts no;
    size_t *jc = malloc((f->nr ? f->nr : 1) * sizeof *jc);
    double *js = malloc((f->nr ? f->nr : 1) * sizeof *js);
    vbt_vep_target *vt = NULL;
    vbt_nuts *s = NULL;
    if (!jc || !js) {
        st = vbt__fail(msg, VBT_ENOMEM, "out of memory");
        goto out;
    }
    fit__nuts_options(f, &no, jc, js); /* exactly run_nuts()'s */
    if (!use_cov)
        no.adapt_metric = 1;
    if ((st = vbt_vep_target_alloc(&vt, f->m, 1, &f->mo, msg)))
        goto out;
    const vbt_target *t = vbt_vep_target_get(vt);
    if ((st = vbt_nuts_alloc(&s, np, t->logp, t->ctx[0], &no, msg)))
        goto out;
    const size_t len = vbt_nuts_state_size(s);
    size_t it = 0;
    if (k->state[chain]) {
        vbt_msg lm;
        if ((st = vbt_nuts_state_load(s, k->state[chain], k->state_len[chain], &lm))) {
            st = vbt__fail(msg, st, "fit chain %zu: %s", chain + 1, lm.text);
            goto out;
        }
        it = vbt_nuts_iteration(s);
        fit__log(f, VBT_FIT_LOG_INFO, "NUTS chain %zu: resuming at iteration %zu of %zu",
                 chain + 1, it, total);
    } else {
        if (use_cov && (st = vbt_nuts_set_inv_metric(s, k->cov, 1))) {
            st = vbt__fail(msg, st, "fit chain %zu: the checkpoint's metric is not positive "
                           "definite", chain + 1);
            goto out;
        }
        if ((st = vbt_nuts_init(s, k->inits + chain * np, f->o.seed, chain))) {
            st = vbt__fail(msg, st, "nuts sample: chain %zu could not start (log density not "
                           "finite at its initial point, or no step size gave a finite "
                           "energy)", chain + 1);
            goto out;
        }
    }
    size_t div = 0;
    for (size_t d = 0; it > W && d < it - W && d < D; d++)
        div += (size_t)k->stats[chain * D + d].divergent;
    while (it < total) {
        vbt_nuts_stats ns;
        double *th = it >= W ? k->th + (chain * D + (it - W)) * np : NULL;
        if ((st = vbt_nuts_iterate(s, th, &ns))) {
            st = vbt__fail(msg, st, "fit chain %zu: iteration %zu failed", chain + 1, it + 1);
            goto out;
        }
        if (it >= W) {
            k->stats[chain * D + (it - W)] = ns;
            div += (size_t)ns.divergent;
        }
        it++;
        int stop = 0;
        if (f->progress) {
            vbt_fit_progress fp = {.stage = "nuts", .chain = chain, .n_chains = f->n_chains,
                                   .iteration = it, .total = total,
                                   .stepsize = vbt_nuts_stepsize(s), .divergences = div,
                                   .fraction = (double)it / (double)total};
            stop = f->progress(f->progress_ctx, &fp);
        }
        if (stop || (k->every && it % k->every == 0 && it < total)) {
            if ((st = save_chain(k, chain, it, s, len, msg)))
                goto out;
            if (stop) {
                st = vbt__fail(msg, VBT_EINVAL, "nuts sample: interrupted");
                goto out;
            }
        }
    }
    /* the chain's end: its last state, so that a merge takes it as it is */
    if (!k->state[chain] || k->iter[chain] != total)
        st = save_chain(k, chain, total, s, len, msg);
out:
    vbt_nuts_free(s);
    vbt_vep_target_free(vt);
    free(jc);
    free(js);
    return st;
}

/* ---- merging ------------------------------------------------------------- */

static int same_f64(const double *a, const double *b, size_t n)
{
    return (!a && !b) || (a && b && memcmp(a, b, n * sizeof *a) == 0);
}

/* b holds the run a holds (the caller's record, sizes, MAP stage, starts,
 * metric). */
static int same_run(const fit_ckpt *a, const fit_ckpt *b)
{
    if (a->record_len != b->record_len || memcmp(a->record, b->record, a->record_len) ||
        a->np != b->np || a->chains != b->chains || a->draws != b->draws ||
        a->warmup != b->warmup || a->has_map != b->has_map ||
        !same_f64(a->inits, b->inits, a->chains * a->np) ||
        !same_f64(a->cov, b->cov, a->np * a->np))
        return 0;
    if (!a->has_map)
        return 1;
    return a->starts == b->starts && a->mr.best_start == b->mr.best_start &&
           a->laplace_ok == b->laplace_ok && same_f64(a->map, b->map, a->np) &&
           same_f64(a->lp_starts, b->lp_starts, a->starts) &&
           same_f64(a->th_starts, b->th_starts, a->starts * a->np);
}

int vbt_fit_checkpoint_chain(const char *path, size_t chain, size_t *iteration, size_t *total,
                             vbt_msg *msg)
{
    if (!path || !iteration || !total)
        return vbt__fail(msg, VBT_EINVAL, "fit checkpoint: NULL argument");
    fit_ckpt k;
    memset(&k, 0, sizeof k);
    int st = fit__ckpt_read(&k, path, msg);
    if (!st && chain >= k.chains)
        st = vbt__fail(msg, VBT_EINVAL, "'%s': no chain %zu (%zu chains)", path, chain + 1,
                       k.chains);
    if (!st) {
        *iteration = k.state[chain] ? k.iter[chain] : 0;
        *total = k.warmup + k.draws;
    }
    fit__ckpt_clear(&k);
    return st;
}

int vbt_fit_merge_chains(const char *const *paths, size_t n, const char *out, vbt_msg *msg)
{
    if (!paths || !out || n == 0 || n > FIT_MAXCH)
        return vbt__fail(msg, VBT_EINVAL, "fit merge: NULL argument or 0 or too many chains");
    fit_ckpt *ks = calloc(n, sizeof *ks);
    if (!ks)
        return vbt__fail(msg, VBT_ENOMEM, "out of memory");
    int st = VBT_OK;
    for (size_t c = 0; c < n && !st; c++) {
        if (!paths[c]) {
            st = vbt__fail(msg, VBT_EINVAL, "fit merge: no file for chain %zu", c + 1);
            break;
        }
        if ((st = fit__ckpt_read(&ks[c], paths[c], msg)))
            break;
        const fit_ckpt *k = &ks[c];
        if (k->chains != n)
            st = vbt__fail(msg, VBT_EINVAL, "'%s': %zu chains, %zu files to merge", paths[c],
                           k->chains, n);
        else if (c && !same_run(&ks[0], k))
            st = vbt__fail(msg, VBT_EINVAL, "'%s' holds another run than '%s' (record, sizes, "
                           "MAP stage or starts differ)", paths[c], paths[0]);
        else if (!k->state[c] || k->iter[c] != k->warmup + k->draws)
            st = vbt__fail(msg, VBT_EINVAL, "'%s': chain %zu has not ended (%zu of %zu "
                           "iterations)", paths[c], c + 1, k->state[c] ? k->iter[c] : 0,
                           k->warmup + k->draws);
    }
    if (!st) {
        fit_ckpt *m = &ks[0];
        const size_t np = m->np, D = m->draws;
        for (size_t c = 1; c < n; c++) {
            fit_ckpt *k = &ks[c];
            free(m->state[c]);
            m->state[c] = k->state[c];
            m->state_len[c] = k->state_len[c];
            m->iter[c] = k->iter[c];
            k->state[c] = NULL;
            memcpy(m->th + c * D * np, k->th + c * D * np, D * np * sizeof *m->th);
            memcpy(m->stats + c * D, k->stats + c * D, D * sizeof *m->stats);
        }
        char *p = strdup(out);
        if (!p) {
            st = vbt__fail(msg, VBT_ENOMEM, "out of memory");
        } else {
            free(m->path);
            m->path = p;
            st = fit__ckpt_write(m, msg);
        }
    }
    for (size_t c = 0; c < n; c++)
        fit__ckpt_clear(&ks[c]);
    free(ks);
    return st;
}

/* observable.c -- observed expressions: linear combinations of a model's
 * state variables such as "x2 - x1" (the Epileptor's LFP proxy). */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "vbt_model.h"

static const char *skip_space(const char *s)
{
    while (*s && isspace((unsigned char)*s))
        s++;
    return s;
}

/* Parse an identifier [A-Za-z_][A-Za-z0-9_]* into buf; NULL when none. */
static const char *parse_name(const char *s, char *buf, size_t n)
{
    size_t len = 0;
    if (!(isalpha((unsigned char)*s) || *s == '_'))
        return NULL;
    while (isalnum((unsigned char)s[len]) || s[len] == '_')
        len++;
    if (len >= n)
        return NULL;
    memcpy(buf, s, len);
    buf[len] = '\0';
    return s + len;
}

static const char *parse_number(const char *s, double *v)
{
    char *end;
    if (!(isdigit((unsigned char)*s) || *s == '.'))
        return NULL;
    *v = strtod(s, &end);
    if (end == s || !isfinite(*v))
        return NULL;
    return end;
}

int vbt_observable_parse(const vbt_model_type *m, const char *expr,
                         vbt_observable *obs, vbt_msg *msg)
{
    if (!m || !expr || !obs)
        return vbt__fail(msg, VBT_EINVAL, "observable: NULL argument");
    memset(obs, 0, sizeof *obs);
    const char *s = skip_space(expr);
    if (!*s)
        return vbt__fail(msg, VBT_EINVAL, "empty expression '%s'", expr);
    int first = 1;
    while (*s) {
        double sign = 1.0, coef = 1.0;
        char name[64];
        s = skip_space(s);
        if (*s == '+' || *s == '-') {
            sign = *s == '-' ? -1.0 : 1.0;
            s = skip_space(s + 1);
        } else if (!first) {
            return vbt__fail(msg, VBT_EINVAL,
                             "expression '%s': expected '+' or '-' at '%s'", expr, s);
        }
        const char *t = parse_number(s, &coef);
        if (t) {
            s = skip_space(t);
            if (*s == '*')
                s = skip_space(s + 1);
        }
        t = parse_name(s, name, sizeof name);
        if (!t)
            return vbt__fail(msg, VBT_EINVAL,
                             "expression '%s': expected a state variable at '%s'", expr, s);
        s = skip_space(t);
        if (*s == '*') {
            double c2;
            t = parse_number(skip_space(s + 1), &c2);
            if (!t)
                return vbt__fail(msg, VBT_EINVAL,
                                 "expression '%s': expected a number after '*'", expr);
            coef *= c2;
            s = skip_space(t);
        }
        long v = vbt_model_state_index(m, name);
        if (v < 0)
            return vbt__fail(msg, VBT_EINVAL,
                             "expression '%s': model '%s' has no state variable '%s'",
                             expr, m->name, name);
        /* Merge repeated variables so "x1 - x1" is exactly zero. */
        size_t i;
        for (i = 0; i < obs->n_terms; i++)
            if (obs->var[i] == (size_t)v)
                break;
        if (i == obs->n_terms) {
            if (obs->n_terms == VBT_OBS_MAXTERMS)
                return vbt__fail(msg, VBT_EINVAL, "expression '%s': more than %d terms",
                                 expr, VBT_OBS_MAXTERMS);
            obs->var[i] = (size_t)v;
            obs->coef[i] = 0.0;
            obs->n_terms++;
        }
        obs->coef[i] += sign * coef;
        first = 0;
    }
    /* Canonical text: the input with surrounding blanks removed. */
    const char *b = skip_space(expr);
    size_t len = strlen(b);
    while (len && isspace((unsigned char)b[len - 1]))
        len--;
    if (len >= sizeof obs->expr)
        return vbt__fail(msg, VBT_EINVAL, "expression '%s' is too long", expr);
    memcpy(obs->expr, b, len);
    obs->expr[len] = '\0';
    return VBT_OK;
}

void vbt_observable_eval(const vbt_observable *obs, size_t n,
                         const double *restrict x, double *restrict out)
{
    /* The common cases (one variable, coefficient 1) reduce to a copy. */
    if (obs->n_terms == 1 && obs->coef[0] == 1.0) {
        memcpy(out, x + obs->var[0] * n, n * sizeof *out);
        return;
    }
    for (size_t k = 0; k < n; k++)
        out[k] = 0.0;
    for (size_t t = 0; t < obs->n_terms; t++) {
        const double *xv = x + obs->var[t] * n;
        const double cf = obs->coef[t];
        for (size_t k = 0; k < n; k++)
            out[k] += cf * xv[k];
    }
}

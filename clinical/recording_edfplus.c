/* recording_edfplus.c -- EDF+ time-stamped annotation lists (TALs), parsed
 * here for the files EDFlib refuses (EDF+D, annotations it reports as
 * format errors).
 *
 * A TAL is "+onset[\x15duration]\x14text\x14[text\x14...]\0"; the first TAL
 * of a data record's first annotation signal has an empty first text and
 * gives the record's start (the time-keeping annotation).  Unused bytes
 * after the last TAL are 0.  Onsets are seconds from the start second of
 * the header, signed, with an optional fraction. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recording_internal.h"

/* "+12.5" / "-0.25": 0 and the value, -1 when not a number of that form. */
static int tal_number(const unsigned char *s, size_t n, int need_sign, double *out)
{
    char buf[40];
    size_t i = 0;
    if (n == 0 || n >= sizeof buf)
        return -1;
    if (s[0] == '+' || s[0] == '-')
        i = 1;
    else if (need_sign)
        return -1;
    int digits = 0, dot = 0;
    for (size_t k = i; k < n; k++) {
        if (s[k] >= '0' && s[k] <= '9')
            digits++;
        else if (s[k] == '.' && !dot)
            dot = 1;
        else
            return -1;
    }
    if (!digits)
        return -1;
    memcpy(buf, s, n);
    buf[n] = '\0';
    *out = strtod(buf, NULL);
    return isfinite(*out) ? 0 : -1;
}

int vbt__tal_parse(const unsigned char *b, size_t n, size_t record, vbt__tal_fn fn, void *ctx,
                   vbt_msg *msg)
{
    size_t i = 0;
    int first = 1;
    while (i < n && b[i] != 0) {
        /* onset[\x15duration]\x14 */
        size_t a = i;
        while (i < n && b[i] != 0x14 && b[i] != 0x15 && b[i] != 0)
            i++;
        double onset, dur = -1.0;
        if (i >= n || b[i] == 0 || tal_number(b + a, i - a, 1, &onset))
            return vbt__fail(msg, VBT_EFORMAT,
                             "data record %zu: annotation onset is not a signed number", record + 1);
        if (b[i] == 0x15) {
            size_t d = ++i;
            while (i < n && b[i] != 0x14 && b[i] != 0)
                i++;
            if (i >= n || b[i] != 0x14 || tal_number(b + d, i - d, 0, &dur) || dur < 0)
                return vbt__fail(msg, VBT_EFORMAT,
                                 "data record %zu: annotation duration is not a number >= 0",
                                 record + 1);
        }
        i++; /* past \x14 */
        /* texts, each ended by \x14, the TAL by \0 */
        int n_text = 0;
        while (i < n && b[i] != 0) {
            size_t t = i;
            while (i < n && b[i] != 0x14 && b[i] != 0)
                i++;
            if (i >= n || b[i] != 0x14)
                return vbt__fail(msg, VBT_EFORMAT,
                                 "data record %zu: annotation text is not ended by 0x14",
                                 record + 1);
            char *text = malloc(i - t + 1);
            if (!text)
                return vbt__fail(msg, VBT_ENOMEM, "out of memory");
            memcpy(text, b + t, i - t);
            text[i - t] = '\0';
            int rc = VBT_OK;
            if (first && n_text == 0 && i == t)
                rc = fn(ctx, onset, dur, NULL); /* time-keeping: empty first text */
            else if (i > t)
                rc = fn(ctx, onset, dur, text);
            free(text);
            if (rc)
                return vbt__fail(msg, rc, "data record %zu: annotation not stored", record + 1);
            n_text++;
            i++;
        }
        if (first && n_text == 0)
            return vbt__fail(msg, VBT_EFORMAT,
                             "data record %zu: time-keeping annotation has no text field",
                             record + 1);
        first = 0;
        if (i >= n)
            return vbt__fail(msg, VBT_EFORMAT, "data record %zu: annotation list not ended by 0",
                             record + 1);
        i++; /* past \0 */
    }
    return VBT_OK;
}

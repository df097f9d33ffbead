/* text.c -- UTF-8 validation, the RFC 4180 record reader and the growing
 * text buffer (vbt_text.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "vbt_io.h"
#include "vbt_text.h"

int vbt_utf8_valid(const char *s, size_t len, size_t *bad)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        unsigned c = u[i];
        size_t n;
        unsigned lo = 0x80, hi = 0xBF; /* bounds of the second byte */
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            if (c == 0xE0)
                lo = 0xA0; /* overlong */
            else if (c == 0xED)
                hi = 0x9F; /* surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            if (c == 0xF0)
                lo = 0x90; /* overlong */
            else if (c == 0xF4)
                hi = 0x8F; /* above U+10FFFF */
        } else {
            break;
        }
        if (n >= len - i) /* truncated sequence */
            break;
        if (u[i + 1] < lo || u[i + 1] > hi)
            break;
        size_t k = 2;
        while (k <= n && u[i + k] >= 0x80 && u[i + k] <= 0xBF)
            k++;
        if (k <= n)
            break;
        i += n + 1;
    }
    if (bad)
        *bad = i;
    return i == len;
}

size_t vbt_csv_record(char **pos, char sep, char **f, size_t max)
{
    char *r = *pos, *w;
    size_t k = 0;
    if (!r || !*r)
        return 0;
    for (;;) {
        char *start = w = r;
        if (*r == '"') {
            r++;
            for (;;) {
                if (!*r)
                    break;
                if (*r == '"') {
                    if (r[1] == '"') {
                        *w++ = '"';
                        r += 2;
                        continue;
                    }
                    r++;
                    break;
                }
                *w++ = *r++;
            }
            /* text after the closing quote up to sep belongs to the field */
            while (*r && *r != sep && *r != '\n' && *r != '\r')
                *w++ = *r++;
        } else {
            while (*r && *r != sep && *r != '\n' && *r != '\r')
                r++;
            w = r;
        }
        char end = *r;
        *w = '\0';
        if (k < max)
            f[k++] = start;
        if (end == sep) {
            r++;
            continue;
        }
        if (end == '\r')
            r += r[1] == '\n' ? 2 : 1;
        else if (end == '\n')
            r++;
        break;
    }
    *pos = r;
    return k;
}

/* ---- growing text buffer ------------------------------------------------ */

void vbt_textbuf_printf(vbt_textbuf *b, const char *fmt, ...)
{
    if (!b || b->oom)
        return;
    va_list ap;
    va_start(ap, fmt);
    int need = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (need < 0)
        return;
    if (b->len + (size_t)need + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (b->len + (size_t)need + 1 > cap) {
            if (cap > (size_t)-1 / 2) { /* cannot double: as a failed allocation */
                b->oom = 1;
                return;
            }
            cap *= 2;
        }
        char *s = realloc(b->s, cap);
        if (!s) {
            b->oom = 1;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)need;
}

void vbt_textbuf_label(vbt_textbuf *b, const char *label)
{
    vbt_textbuf_printf(b, "\"");
    for (const char *q = label ? label : ""; *q; q++)
        vbt_textbuf_printf(b, *q == '"' ? "\"\"" : "%c", *q);
    vbt_textbuf_printf(b, "\"");
}

int vbt_textbuf_write(vbt_textbuf *b, const char *path, int overwrite, vbt_msg *msg)
{
    if (!b)
        return vbt__fail(msg, VBT_EINVAL, "vbt_textbuf_write: NULL buffer");
    int st = VBT_OK;
    if (!path) {
        st = vbt__fail(msg, VBT_EINVAL, "vbt_textbuf_write: NULL path");
    } else if (b->oom) {
        st = vbt__fail(msg, VBT_ENOMEM, "out of memory writing '%s'", path);
    } else {
        int rc = vbt_file_write_atomic(path, b->s ? b->s : "", b->len, overwrite, msg);
        if (rc != VBT_OK)
            st = rc == VBT_EEXIST ? VBT_EEXIST : VBT_EIO;
    }
    vbt_textbuf_free(b);
    return st;
}

void vbt_textbuf_free(vbt_textbuf *b)
{
    if (!b)
        return;
    free(b->s);
    memset(b, 0, sizeof *b);
}

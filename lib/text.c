/* text.c -- UTF-8 validation and the RFC 4180 record reader (vbt_text.h). */
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

/* strbuf.c -- the growing text buffer of the commands. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"

void sb_printf(strbuf *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    va_list ap;
    va_start(ap, fmt);
    int need = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (need < 0)
        return;
    if (b->len + (size_t)need + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (b->len + (size_t)need + 1 > cap)
            cap *= 2;
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

void sb_label(strbuf *b, const char *label)
{
    sb_printf(b, "\"");
    for (const char *q = label; *q; q++)
        sb_printf(b, *q == '"' ? "\"\"" : "%c", *q);
    sb_printf(b, "\"");
}

int sb_write(strbuf *b, vbt_outdir *od, const char *name, vbt_msg *msg)
{
    char path[4096];
    int st;
    if (b->oom) {
        snprintf(msg->text, sizeof msg->text, "out of memory writing %s", name);
        st = 1;
    } else {
        st = vbt_outdir_file(od, name, path, sizeof path) ||
             vbt_file_write_atomic(path, b->s ? b->s : "", b->len, 0, msg);
    }
    free(b->s);
    memset(b, 0, sizeof *b);
    return st;
}


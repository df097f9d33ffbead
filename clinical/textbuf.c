/* textbuf.c -- the clinical library's growing text buffer (textbuf.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "textbuf.h"

void vbt__tb_printf(vbt__textbuf *b, const char *fmt, ...)
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

void vbt__tb_label(vbt__textbuf *b, const char *label)
{
    vbt__tb_printf(b, "\"");
    for (const char *q = label; *q; q++)
        vbt__tb_printf(b, *q == '"' ? "\"\"" : "%c", *q);
    vbt__tb_printf(b, "\"");
}

int vbt__tb_write(vbt__textbuf *b, const char *path, vbt_msg *msg)
{
    int st = VBT_OK;
    if (b->oom)
        st = vbt__fail(msg, VBT_ENOMEM, "out of memory writing '%s'", path);
    else if (vbt_file_write_atomic(path, b->s ? b->s : "", b->len, 1, msg))
        st = VBT_EIO;
    free(b->s);
    memset(b, 0, sizeof *b);
    return st;
}

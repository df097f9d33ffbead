/* common.c -- status names, error messages, version. */
#include <stdio.h>
#include <string.h>

#include "internal.h"

const char *vbt_strerror(int status)
{
    switch (status) {
    case VBT_OK: return "success";
    case VBT_EINVAL: return "invalid argument";
    case VBT_ENOMEM: return "out of memory";
    case VBT_EIO: return "input/output error";
    case VBT_EFORMAT: return "malformed input";
    case VBT_ENUMERIC: return "numerical error";
    case VBT_ERANGE: return "out of range";
    case VBT_EEXIST: return "output exists";
    case VBT_ENOTFOUND: return "not found";
    default: return "unknown error";
    }
}

const char *vbt_version(void)
{
    return VBT_VERSION;
}

int vbt__vfail(vbt_msg *msg, int status, const char *fmt, va_list ap)
{
    if (msg) {
        vsnprintf(msg->text, sizeof msg->text, fmt, ap);
    }
    return status;
}

int vbt__fail(vbt_msg *msg, int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vbt__vfail(msg, status, fmt, ap);
    va_end(ap);
    return status;
}

void vbt__msg_clear(vbt_msg *msg)
{
    if (msg)
        msg->text[0] = '\0';
}

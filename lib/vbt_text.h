/* vbt_text.h -- small text utilities the readers and writers share: UTF-8
 * validation (labels must be valid UTF-8 before they reach JSON, HTML or
 * SVG), one RFC 4180 record reader for CSV/TSV (quotes, doubled quotes,
 * CRLF, line breaks inside quotes) and the growing text buffer in which the
 * CSV, TSV, JSON, HTML and SVG outputs are composed. */
#ifndef VBT_TEXT_H
#define VBT_TEXT_H

#include <stddef.h>

#include "vbt_common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 1 when the len bytes at s are well-formed UTF-8 (no overlong forms, no
 * surrogates, nothing above U+10FFFF), else 0; *bad (may be NULL) gets the
 * offset of the first invalid byte. */
int vbt_utf8_valid(const char *s, size_t len, size_t *bad);

/* Split the next record of the NUL-terminated text at *pos into fields, in
 * place, and advance *pos past it.  sep separates fields (',' or '\t'); a
 * field that starts with '"' is quoted: it runs to the next lone '"', may
 * hold sep, line breaks and doubled quotes ("" -> "), and the quotes are
 * removed.  A record ends at LF, CRLF or CR outside quotes, or at the end
 * of the text (an unterminated quote runs to it).  At most max field
 * pointers are stored in f (later fields are skipped).  Returns the number
 * stored, >= 1 for every record (an empty line is one empty field), 0 at
 * the end of the text. */
size_t vbt_csv_record(char **pos, char sep, char **f, size_t max);

/* ---- growing text buffer ------------------------------------------------ */

/* A growing, NUL-terminated text buffer; start from {0}.  s is NULL until
 * the first append; len excludes the NUL.  An allocation failure is sticky:
 * oom is set, later appends do nothing, and vbt_textbuf_write reports it
 * (VBT_ENOMEM), so a composer appends without checking each call. */
typedef struct vbt_textbuf {
    char *s;
    size_t len, cap;
    int oom;
} vbt_textbuf;

/* Append printf-formatted text. */
void vbt_textbuf_printf(vbt_textbuf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Append a CSV field: the label in double quotes, quotes inside doubled
 * (RFC 4180: a"b -> "a""b"; NULL as ""). */
void vbt_textbuf_label(vbt_textbuf *b, const char *label);

/* Write the buffer's len bytes as the file `path`, atomically (temporary
 * file then rename; nothing is left behind on failure), and free it (the
 * buffer is {0} afterwards, whatever the outcome).  An existing file is
 * replaced only when overwrite != 0.  Returns VBT_OK, VBT_ENOMEM (an append
 * had failed; nothing is written), VBT_EEXIST (path exists, overwrite == 0)
 * VBT_EIO (any other failure to write) or VBT_EINVAL (path NULL); msg
 * (may be NULL) says why. */
int vbt_textbuf_write(vbt_textbuf *b, const char *path, int overwrite, vbt_msg *msg);

/* Free the text and zero the buffer; NULL-safe. */
void vbt_textbuf_free(vbt_textbuf *b);

#ifdef __cplusplus
}
#endif
#endif

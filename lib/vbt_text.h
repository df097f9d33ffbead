/* vbt_text.h -- small text utilities the readers share: UTF-8 validation
 * (labels must be valid UTF-8 before they reach JSON, HTML or SVG) and one
 * RFC 4180 record reader for CSV/TSV (quotes, doubled quotes, CRLF, line
 * breaks inside quotes). */
#ifndef VBT_TEXT_H
#define VBT_TEXT_H

#include <stddef.h>

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

#ifdef __cplusplus
}
#endif
#endif

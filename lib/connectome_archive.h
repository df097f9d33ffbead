/* connectome_archive.h -- read the members of a TVB connectivity from a .zip
 * archive or a directory (private to libvbt). */
#ifndef VBT_CONNECTOME_ARCHIVE_H
#define VBT_CONNECTOME_ARCHIVE_H

#include <stddef.h>
#include "internal.h"
#include "vbt_common.h"

/* Largest accepted member, after decompression (a zip bomb gives an error). */
#define VBT__CONN_MEMBER_MAX ((size_t)512 << 20)

typedef struct vbt__conn_member {
    const char *want;  /* in: base name wanted, e.g. "weights.txt" */
    char *data;        /* out: malloc'd bytes + NUL, or NULL when absent */
    size_t len;        /* out: bytes in data, excluding the NUL */
    char name[64];     /* out: member as found ("weights.txt.bz2"), "" when absent */
} vbt__conn_member;

/* Fill m[0..count) from `path`, a zip archive or a directory.  A member
 * matches when its base name is `want` or `want`.bz2 (then decompressed) and
 * it sits at the top level or in one sub-folder; __MACOSX/ and unrelated
 * files are ignored.  Absent members are left NULL; a member found twice is
 * an error.  On error every m[i].data is freed and NULL. */
VBT_HIDDEN int vbt__conn_archive_read(const char *path, vbt__conn_member *m, size_t count,
                           vbt_msg *msg);

/* Free the data of m[0..count); NULL-safe. */
VBT_HIDDEN void vbt__conn_members_free(vbt__conn_member *m, size_t count);

#endif

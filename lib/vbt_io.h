/* vbt_io.h -- files: NumPy .npy arrays, SHA-256 of inputs, and outputs that
 * appear whole or not at all.
 *
 * Outputs are never written in place: a file is written to a temporary
 * name in the same directory and renamed over the target when complete; an
 * output directory is staged the same way (vbt_outdir_*).  A crash or an
 * error therefore never leaves a half-written output behind.
 */
#ifndef VBT_IO_H
#define VBT_IO_H

#include <stddef.h>
#include <stdint.h>
#include "vbt_common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VBT_NPY_MAXDIM 8

/* ---- .npy (NumPy format 1.0/2.0/3.0) -------------------------------- */

/* A float64 array read from .npy: data in C order, owned by the struct. */
typedef struct vbt_array {
    double *data;
    size_t ndim;
    size_t shape[VBT_NPY_MAXDIM];
    size_t size;               /* product of shape */
} vbt_array;

/* Read an .npy file holding float64, float32, int8/16/32/64 or uint8/16/32/64
 * (either byte order, C or Fortran order) into float64 C order.  Rejects
 * object arrays, structured dtypes, truncated data, trailing garbage,
 * shape/size overflow.  On error the array is left empty and msg names
 * the file and the problem.  Free with vbt_array_clear(). */
int vbt_npy_read(const char *path, vbt_array *out, vbt_msg *msg);

/* Same, from a memory buffer (used by the fuzz target); `what` names the
 * source in messages. */
int vbt_npy_parse(const void *buf, size_t len, const char *what, vbt_array *out,
                  vbt_msg *msg);

/* Free the data of an array and zero it; NULL-safe. */
void vbt_array_clear(vbt_array *a);

/* Write a float64 C-order array as .npy ('<f8', format 1.0), atomically
 * (temporary file then rename).  Refuses to replace an existing file unless
 * overwrite != 0. */
int vbt_npy_write(const char *path, const double *data, size_t ndim,
                  const size_t *shape, int overwrite, vbt_msg *msg);

/* Streaming writer for outputs too large to keep in memory: the header is
 * written with the final shape, then exactly prod(shape) values are appended
 * in C order.  _close() checks the count, flushes and renames into place;
 * _abort() removes the temporary file.  Both free the writer. */
typedef struct vbt_npy_writer vbt_npy_writer;
int vbt_npy_writer_open(vbt_npy_writer **w, const char *path, size_t ndim,
                        const size_t *shape, int overwrite, vbt_msg *msg);
int vbt_npy_writer_append(vbt_npy_writer *w, const double *data, size_t count,
                          vbt_msg *msg);
int vbt_npy_writer_close(vbt_npy_writer *w, vbt_msg *msg);
void vbt_npy_writer_abort(vbt_npy_writer *w);

/* ---- hashing ---------------------------------------------------------- */

/* SHA-256 of a file's bytes as 64 lowercase hex digits plus NUL. */
int vbt_sha256_file(const char *path, char hex[65], vbt_msg *msg);
/* SHA-256 of a memory buffer. */
void vbt_sha256_buffer(const void *buf, size_t len, char hex[65]);

/* ---- input budget ----------------------------------------------------- */

/* The most memory one input may take once decompressed: the members of a
 * connectome archive together, the voxels of a (gzipped) NIfTI volume.  A
 * small hostile file (a zip bomb, a 1 MB .nii.gz declaring 1024^3 voxels) is
 * refused with VBT_ERANGE when what it declares or decompresses to passes
 * this, before the memory is used.  The environment variable
 * VBT_MAX_INPUT_BYTES overrides the default (bytes, or with a K, M or G
 * suffix: "4G"); an unreadable value gives the default. */
#define VBT_INPUT_BUDGET_DEFAULT ((size_t)1 << 30)
size_t vbt_input_budget_bytes(void);

/* ---- whole files ------------------------------------------------------ */

/* Read a whole file into a NUL-terminated malloc'd buffer (*len excludes the
 * NUL).  Refuses files larger than max_bytes (0 = 1 GiB). */
int vbt_file_read_all(const char *path, char **buf, size_t *len, size_t max_bytes,
                      vbt_msg *msg);

/* Write a buffer to path atomically (temp + fsync + rename). */
/* How provenance and logs show a path (privacy: never an absolute path,
 * which names users and often patients): a relative path as given; an
 * absolute one relative to the working directory when inside it, else its
 * last component alone, and a folder outside it as "(a folder outside the
 * working directory)" (its name is often a patient's).  Points into path or
 * at a static string. */
const char *vbt_path_public(const char *path);

int vbt_file_write_atomic(const char *path, const void *buf, size_t len,
                          int overwrite, vbt_msg *msg);

/* ---- output directories ----------------------------------------------- */

/* Create a directory and its missing parents (mkdir -p).  VBT_EIO naming the
 * directory when that fails or a component is not a directory. */
int vbt_mkdir_parents(const char *dir, vbt_msg *msg);

/* An exclusive advisory lock on an output path: the lock file
 * "<parent>/.<name>.lock" beside it holds the owner's pid.  acquire fails
 * with VBT_EIO, naming that pid, while another process (or another handle of
 * this one) holds it; the lock of a process that died is taken over (flock
 * locks end with their process).  Missing parent directories are created.
 * release unlinks the lock file and frees the handle; NULL-safe. */
typedef struct vbt_dirlock vbt_dirlock;
int vbt_dirlock_acquire(vbt_dirlock **lk, const char *path, vbt_msg *msg);
void vbt_dirlock_release(vbt_dirlock *lk);

/* An output directory staged beside its final place: files are written into
 * vbt_outdir_path(), and vbt_outdir_commit() renames the staging directory
 * to the final name (replacing an existing directory only when overwrite was
 * given at begin).  vbt_outdir_abort() deletes the staging directory.  Both
 * free the handle.  begin fails with VBT_EEXIST when the final directory
 * exists and overwrite == 0, before anything is written.
 *
 * begin creates missing parent directories, then takes the lock of the final
 * name (vbt_dirlock_acquire) for the life of the handle, so a second run into
 * the same place is refused.  Staging directories are named
 * ".<name>.tmp-<pid>-XXXXXX"; begin removes those (and ".<name>.old-<pid>-*")
 * whose process is gone: what a killed run left behind. */
typedef struct vbt_outdir vbt_outdir;
int vbt_outdir_begin(vbt_outdir **od, const char *final_dir, int overwrite, vbt_msg *msg);
const char *vbt_outdir_path(const vbt_outdir *od);
/* Path of a file inside the staging dir, written into buf (size n). */
int vbt_outdir_file(const vbt_outdir *od, const char *name, char *buf, size_t n);
int vbt_outdir_commit(vbt_outdir *od, vbt_msg *msg);
void vbt_outdir_abort(vbt_outdir *od);

#ifdef __cplusplus
}
#endif
#endif

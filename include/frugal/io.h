/* io.h: reading and writing tensors in files: safetensors checkpoints (the
 * Hugging Face layout) and IDX arrays (the MNIST family).
 *
 * Reading a checkpoint:
 *
 *     struct fr_st_file *f;
 *     if (fr_st_open("model.safetensors", &f)) die(fr_last_error());
 *     const struct fr_st_entry *e = fr_st_find(f, "fc1.weight");
 *     float *w = malloc(e->nelem * sizeof *w);
 *     fr_st_entry_to_f32(e, w);                    // F16/BF16/F64 -> F32
 *     printf("%s\n", fr_st_meta(f, "model"));      // __metadata__ value
 *     fr_st_close(f);
 *
 * A model's parameters round-trip in one call each (fr_params_save /
 * fr_params_load); a trainer adds its optimizer moments, RNG state and
 * counters as extra named arrays (struct fr_ckpt_blob) so one file resumes a
 * run exactly.
 *
 * Every parser here treats its input as hostile: sizes and offsets are
 * checked before use, and anything malformed gives FR_EFORMAT with a
 * one-line message, never a crash. Files are little-endian; frugal assumes
 * a little-endian host.
 */
#ifndef FRUGAL_IO_H
#define FRUGAL_IO_H

#include <stddef.h>
#include <stdint.h>

#include "frugal/params.h"
#include "frugal/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------- safetensors: reading ---------------- */

#define FR_ST_MAX_DIMS 8                       /* dims a file entry may have */
#define FR_ST_MAX_HEADER ((uint64_t)100 << 20) /* header JSON larger than this is refused */

struct fr_st_entry {
    const char *name;
    enum fr_dtype dtype; /* BOOL is read as FR_U8 with is_bool set */
    int is_bool;
    int ndim;                      /* 0 (scalar) .. FR_ST_MAX_DIMS */
    int64_t shape[FR_ST_MAX_DIMS]; /* PyTorch order: outermost first */
    int64_t nelem;                 /* product of shape (1 for a scalar) */
    const void *data;              /* into the file's bytes; may be unaligned */
    size_t nbytes;                 /* nelem * dtype size */
    uint64_t begin, end;           /* data_offsets, relative to the data section */
};

struct fr_st_file {
    const uint8_t *bytes; /* whole file (mapped, or the caller's buffer) */
    size_t size;
    int mapped;
    uint64_t header_len;
    struct fr_st_entry *entries; /* in file (offset) order */
    int n;
    struct fr_st_entry **by_name; /* sorted by name, for fr_st_find */
    char **meta_keys, **meta_vals;
    int nmeta;
    char *strings; /* owns names, keys and values */
};

/* Opens a safetensors file by read-only mmap and validates its whole header:
 * header length within the file and at most FR_ST_MAX_HEADER, a JSON object
 * with no NUL character anywhere (names and metadata are C strings), every
 * tensor with a known dtype, a non-negative shape, data_offsets inside the
 * data section with begin <= end and end - begin = nelem * dtype size, no
 * two tensors overlapping, no duplicate names, __metadata__ a map of
 * strings. On success *out owns the mapping (fr_st_close); on failure *out is
 * NULL and the return is FR_EIO (cannot open/read; "PATH is not a regular
 * file" for a directory, FIFO or device, refused before it can block) or
 * FR_EFORMAT. The tensor data is not looked at (fr_st_check_finite). */
int fr_st_open(const char *path, struct fr_st_file **out);
/* Same over bytes in memory. The bytes are borrowed and must outlive *out. */
int fr_st_open_mem(const void *bytes, size_t size, struct fr_st_file **out);
/* Releases the mapping and every entry. NULL is a no-op. */
void fr_st_close(struct fr_st_file *f);
/* Entry named name, or NULL (no error message set). O(log n). */
const struct fr_st_entry *fr_st_find(const struct fr_st_file *f, const char *name);
/* Value of a __metadata__ key, or NULL. */
const char *fr_st_meta(const struct fr_st_file *f, const char *key);

/* Converts an entry of any float or integer dtype to f32 into dst
 * (e->nelem floats). Unaligned data is fine. */
void fr_st_entry_to_f32(const struct fr_st_entry *e, float *dst);
/* Frugal shape (ne innermost first) of an entry: FR_EINVAL if it has more
 * than FR_MAX_DIMS dims. A scalar becomes ndim 1, ne {1}. */
int fr_st_entry_ne(const struct fr_st_entry *e, int *ndim, int64_t ne[FR_MAX_DIMS]);
/* 0 if the entry has exactly the frugal shape (ndim, ne innermost first);
 * else FR_EINVAL with "tensor 'NAME': file shape (A, B) but expected (C, D)". */
int fr_st_check_shape(const struct fr_st_entry *e, int ndim, const int64_t *ne);
/* 0 if every element of a float entry (F32, F64, F16, BF16) is finite (F64
 * also within f32's range, as every reader converts to f32); integer
 * entries always pass. Else FR_EFORMAT "tensor 'NAME' element I is NaN (or
 * +inf, -inf): weights must be finite", I the first bad index. One
 * vectorisable pass over the bytes (fr_first_nonfinite). */
int fr_st_check_finite(const struct fr_st_entry *e);
/* Finds name, checks it holds exactly n elements, converts it to f32 into
 * dst. FR_ENOTFOUND if absent, FR_EINVAL on a count mismatch. */
int fr_st_read_f32(const struct fr_st_file *f, const char *name, float *dst, int64_t n);

/* A file's tensors counted: parameters (names not starting with "__") apart
 * from a trainer's state ("__" arrays: optimizer moments, RNG bytes,
 * counters, masks; struct fr_ckpt_blob), and the bytes of all their data. */
struct fr_st_counts {
    int64_t params, param_tensors; /* elements, tensors */
    int64_t state, state_tensors;
    size_t data_bytes;
};
void fr_st_count(const struct fr_st_file *f, struct fr_st_counts *c);

/* ---------------- safetensors: writing ---------------- */

/* One tensor to write. data holds nelem elements of dtype, contiguous.
 * store applies to F32 data only: FR_F32 (the zero value: as is), FR_F16 or
 * FR_BF16 (rounded to nearest even). Other dtypes are written as they are. */
struct fr_st_out {
    const char *name;
    enum fr_dtype dtype;
    enum fr_dtype store;
    int ndim;                /* 0 (scalar) .. FR_MAX_DIMS */
    int64_t ne[FR_MAX_DIMS]; /* innermost first (frugal order) */
    const void *data;
};

/* Writes a safetensors file atomically: to a temporary file beside it with a
 * name unique to this call ("<path>.tmp.XXXXXX", so concurrent writers of one
 * path never collide), every write checked, fsync, rename over path. On any
 * failure (a full disk, a file-size limit: EFBIG where SIGXFSZ is ignored)
 * the temporary file is removed and an existing file at path is left
 * untouched. Tensors are written in the given order with
 * contiguous offsets; the header is space-padded so data starts at a
 * multiple of 8. meta_keys/meta_vals (nmeta pairs, may be 0) become
 * __metadata__. FR_EINVAL on a bad entry (duplicate or empty name, bad
 * shape, unsupported store), FR_EIO on a write error. */
int fr_st_write(const char *path, const struct fr_st_out *t, int n, const char *const *meta_keys,
                const char *const *meta_vals, int nmeta);

/* ---------------- checkpoints of a parameter slab ---------------- */

/* An extra named array stored next to the parameters: optimizer moments
 * (F32, e.g. "__optim__.m"), RNG and iterator state (U8 bytes, e.g.
 * "__state__.rng"), counters (I64). Names should start with "__" so they
 * never collide with a parameter. On save data is read; on load the file's
 * array must have exactly n elements and is written into data (F32 blobs
 * accept F16/BF16/F64 in the file; other dtypes must match exactly). */
struct fr_ckpt_blob {
    const char *name;
    enum fr_dtype dtype;
    void *data;
    int64_t n;
    int optional; /* load: absent is not an error */
    int found;    /* load output: 1 if it was in the file */
};

/* Options of fr_params_save / fr_params_load; a NULL pointer means all zero. */
struct fr_ckpt {
    const char *const *meta_keys; /* __metadata__ pairs written on save */
    const char *const *meta_vals;
    int nmeta;
    struct fr_ckpt_blob *blobs;
    int nblobs;
    enum fr_dtype store; /* save: FR_F32 (default), FR_F16 or FR_BF16 for parameter values */
    int allow_extra;     /* load: ignore file tensors matching no param or blob */
    int n_ignored;       /* load output: how many were ignored */
};

/* Saves every parameter (buffers included) under its name with its PyTorch-
 * order shape, plus opt's blobs and metadata, atomically (fr_st_write). */
int fr_params_save(const struct fr_params *p, const char *path, const struct fr_ckpt *opt);
/* Loads every parameter of an allocated slab by name, converting to f32.
 * A missing tensor is FR_ENOTFOUND naming it; a shape mismatch is FR_EINVAL
 * naming the tensor and both shapes; a file tensor that matches nothing is
 * FR_EINVAL unless opt->allow_extra; a NaN or infinity in a parameter or an
 * F32 blob is FR_EFORMAT naming the tensor and the first bad element.
 * Everything is checked before anything is copied, so on failure the slab
 * and the blobs are unchanged. */
int fr_params_load(struct fr_params *p, const char *path, struct fr_ckpt *opt);

/* An advisory lock on a checkpoint path, so that a second live process
 * that starts writing the same path fails at once instead of both runs
 * overwriting each other's checkpoints: flock on "<path>.lock" (created;
 * it records the holder's pid). *fd gets the lock's descriptor (-1 on
 * failure). FR_EIO "checkpoint PATH is being written by another live
 * process (pid N holds PATH.lock) ..." when held, FR_EIO when the lock file
 * cannot be created (say, a missing directory). A lock is released by
 * fr_ckpt_unlock or by the holder's exit (a crash leaves no stale lock);
 * it is not meant for NFS. Used by fr_fit (train.h) for its c->ckpt. */
int fr_ckpt_lock(const char *path, int *fd);
/* Releases the lock fr_ckpt_lock(path, &fd) took and removes the lock file
 * (nobody else holds it). fd < 0 is a no-op. */
void fr_ckpt_unlock(const char *path, int fd);

/* The keep-mask of a pruned slab (p->mask) travels as this U8 blob over the
 * whole slab (p->n entries, 1 keep / 0 pruned). */
#define FR_MASK_BLOB "__mask__"
/* fr_params_save plus the mask (when p->mask is set) as FR_MASK_BLOB; opt's
 * own blobs and metadata are kept (at most 15 blobs). */
int fr_params_save_masked(const struct fr_params *p, const char *path, const struct fr_ckpt *opt);
/* fr_params_load plus the mask blob when the file has one: then p->mask is
 * allocated, set, and applied (masked weights zeroed). *has_mask (may be
 * NULL) tells which. A mask blob of the wrong size is FR_EINVAL. */
int fr_params_load_masked(struct fr_params *p, const char *path, struct fr_ckpt *opt,
                          int *has_mask);

/* ---------------- IDX (MNIST family) ---------------- */

/* An IDX array: dims outermost first as in the file; data converted to host
 * order. Element types: 0x08 -> FR_U8, 0x09 -> FR_I8, 0x0B (i16) -> FR_I32
 * (widened), 0x0C -> FR_I32, 0x0D -> FR_F32, 0x0E -> FR_F64. */
#define FR_IDX_MAX_DIMS 8
#define FR_IDX_MAX_BYTES ((uint64_t)1 << 32) /* larger arrays are refused */

struct fr_idx {
    enum fr_dtype dtype;
    int ndim;
    int64_t dims[FR_IDX_MAX_DIMS];
    int64_t n;  /* elements */
    void *data; /* malloc'd, n * fr_dtype_size(dtype) bytes */
};

/* Reads an IDX file, gzip-compressed or plain (detected from the bytes);
 * anything but a regular file is FR_EIO "PATH is not a regular file". Checks
 * the magic (two zero bytes, type code, 1..FR_IDX_MAX_DIMS dims),
 * that the payload is exactly prod(dims) elements (truncated or trailing
 * bytes are FR_EFORMAT) and at most FR_IDX_MAX_BYTES. FR_EIO if the file
 * cannot be opened. Memory grows with the bytes actually read, so a tiny
 * file claiming huge dims allocates little. *out is zeroed on failure. */
int fr_idx_load(const char *path, struct fr_idx *out);
void fr_idx_free(struct fr_idx *x);

#ifdef __cplusplus
}
#endif
#endif

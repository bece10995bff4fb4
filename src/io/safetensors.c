/* safetensors.c: the Hugging Face safetensors format, read and written.
 *
 * Layout: u64 little-endian header length N, N bytes of JSON (an object:
 * tensor name -> {"dtype", "shape", "data_offsets": [begin, end]}, plus an
 * optional "__metadata__" map of strings), then the raw little-endian data;
 * offsets are relative to the first byte after the header.
 *
 * Reading maps the file read-only and validates the whole header up front
 * (see fr_st_open in io.h), so afterwards every entry's data pointer and size
 * can be trusted. Data may be unaligned: all element reads go through memcpy.
 * Numbers in the JSON are doubles in cJSON; they are range-checked as
 * doubles before any integer conversion (a cast of an out-of-range double is
 * undefined behaviour).
 *
 * Names and metadata are C strings, so a header whose JSON holds a NUL
 * character ("\u0000", which cJSON decodes and the name then ends there:
 * "fc1.weight\u0000junk" would load as fc1.weight) is refused outright.
 *
 * This file deliberately depends only on src/core's status.c, file.c and
 * finite.c (and libcjson), with its own dtype table and f16/bf16 bit
 * conversions, so the fuzz target links just those and the rounding does
 * not depend on the compiler's _Float16 support. Writing goes through the
 * one atomic writer (file.h).
 */
#include "frugal/io.h"
#include "frugal/status.h"

#include "../core/file.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "frugal's file formats assume a little-endian host"
#endif

#define MAX_JSON_INT 9007199254740992.0 /* 2^53: largest exactly representable count */

static const struct {
    const char *name;
    enum fr_dtype dt;
    int is_bool;
} ST_DTYPES[] = {
    {"F32", FR_F32, 0},   {"F64", FR_F64, 0}, {"F16", FR_F16, 0},
    {"BF16", FR_BF16, 0}, {"I32", FR_I32, 0}, {"I64", FR_I64, 0},
    {"U8", FR_U8, 0},     {"I8", FR_I8, 0},   {"BOOL", FR_U8, 1},
};

static size_t dt_size(enum fr_dtype dt) {
    switch (dt) {
    case FR_F64:
    case FR_I64:
        return 8;
    case FR_F32:
    case FR_I32:
        return 4;
    case FR_F16:
    case FR_BF16:
        return 2;
    case FR_U8:
    case FR_I8:
        return 1;
    default:
        return 0;
    }
}

static const char *dt_name(enum fr_dtype dt) {
    for (size_t i = 0; i < sizeof ST_DTYPES / sizeof ST_DTYPES[0]; i++)
        if (ST_DTYPES[i].dt == dt && !ST_DTYPES[i].is_bool) return ST_DTYPES[i].name;
    return NULL;
}

/* ---------------- f16 / bf16 bit conversions ---------------- */

static float f16_to_f32(uint16_t h) {
    uint32_t s = (uint32_t)(h & 0x8000) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ff, u;
    if (e == 0) {
        float f = (float)m * 0x1p-24f; /* zero or subnormal, exact */
        return (h & 0x8000) ? -f : f;
    }
    if (e == 31)
        u = s | 0x7f800000u | (m << 13);
    else
        u = s | ((e + 112) << 23) | (m << 13);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* Round to nearest even, overflow to inf, NaN stays (quiet) NaN. */
static uint16_t f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u) return (uint16_t)(sign | 0x7e00 | ((ax >> 13) & 0x3ff));
    if (ax >= 0x477ff000u) return (uint16_t)(sign | 0x7c00); /* >= 65520: inf */
    if (ax < 0x38800000u) {                                  /* below 2^-14: subnormal */
        if (ax < 0x33000000u) return sign;                   /* <= 2^-25 rounds to 0 */
        uint32_t e = ax >> 23, m = (ax & 0x7fffffu) | 0x800000u;
        int shift = 126 - (int)e; /* 14..24 */
        uint32_t q = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (q & 1))) q++;
        return (uint16_t)(sign | q);
    }
    uint32_t r = ax - 0x38000000u; /* rebias exponent 127 -> 15 */
    r += 0xfff + ((r >> 13) & 1);
    return (uint16_t)(sign | (r >> 13));
}

static float bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static uint16_t f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
    u += 0x7fff + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}

/* ---------------- reading ---------------- */

static uint64_t rd_le64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static const char *shape_str(const int64_t *shape, int ndim, char *buf, size_t n) {
    size_t k = (size_t)snprintf(buf, n, "(");
    for (int d = 0; d < ndim && k < n; d++)
        k += (size_t)snprintf(buf + k, n - k, "%lld%s", (long long)shape[d],
                              d + 1 < ndim ? ", " : "");
    if (k < n) snprintf(buf + k, n - k, ")");
    return buf;
}

/* A printable, bounded copy of a name from a file, for one-line messages. */
static const char *disp(const char *s, char buf[72]) {
    size_t i = 0;
    for (; s[i] && i < 64; i++)
        buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
    if (s[i]) {
        memcpy(buf + i, "...", 3);
        i += 3;
    }
    buf[i] = 0;
    return buf;
}

/* A JSON number that is a whole value in [0, 2^53]. */
static int json_count(const cJSON *j, int64_t *v) {
    if (!cJSON_IsNumber(j)) return 0;
    double d = j->valuedouble;
    if (!(d >= 0.0 && d <= MAX_JSON_INT) || d != (double)(int64_t)d) return 0;
    *v = (int64_t)d;
    return 1;
}

static size_t strsize(const char *s) {
    return strlen(s) + 1;
}

static char *put_str(char **cursor, const char *s) {
    char *d = *cursor;
    size_t n = strsize(s);
    memcpy(d, s, n);
    *cursor += n;
    return d;
}

static int parse_entry(const cJSON *j, struct fr_st_entry *e, const char *name,
                       uint64_t data_size) {
    if (!cJSON_IsObject(j))
        return fr_error(FR_EFORMAT, "safetensors: tensor '%s' is not a JSON object", name);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(j, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(j, "shape");
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(j, "data_offsets");
    if (!cJSON_IsString(dt))
        return fr_error(FR_EFORMAT, "safetensors: tensor '%s' has no string dtype", name);
    if (!cJSON_IsArray(sh))
        return fr_error(FR_EFORMAT, "safetensors: tensor '%s' has no shape array", name);
    if (!cJSON_IsArray(off) || cJSON_GetArraySize(off) != 2)
        return fr_error(FR_EFORMAT, "safetensors: tensor '%s' has no data_offsets [begin, end]",
                        name);
    size_t k;
    for (k = 0; k < sizeof ST_DTYPES / sizeof ST_DTYPES[0]; k++)
        if (strcmp(dt->valuestring, ST_DTYPES[k].name) == 0) break;
    if (k == sizeof ST_DTYPES / sizeof ST_DTYPES[0]) {
        char a[72];
        return fr_error(FR_EFORMAT, "safetensors: tensor '%s' has unsupported dtype '%s'", name,
                        disp(dt->valuestring, a));
    }
    e->dtype = ST_DTYPES[k].dt;
    e->is_bool = ST_DTYPES[k].is_bool;
    int ndim = cJSON_GetArraySize(sh);
    if (ndim > FR_ST_MAX_DIMS)
        return fr_error(FR_EFORMAT, "safetensors: tensor '%s' has %d dims (max %d)", name, ndim,
                        FR_ST_MAX_DIMS);
    e->ndim = ndim;
    int64_t nelem = 1;
    int zero = 0, overflow = 0, d = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, sh) {
        if (!json_count(it, &e->shape[d]))
            return fr_error(FR_EFORMAT,
                            "safetensors: tensor '%s' dim %d is not a size in [0, 2^53]", name, d);
        if (e->shape[d] == 0) zero = 1;
        if (!overflow && __builtin_mul_overflow(nelem, e->shape[d], &nelem)) overflow = 1;
        d++;
    }
    if (zero) nelem = 0;
    size_t nbytes;
    if ((overflow && !zero) || __builtin_mul_overflow((size_t)nelem, dt_size(e->dtype), &nbytes))
        return fr_error(FR_EFORMAT, "safetensors: tensor '%s' shape overflows", name);
    e->nelem = nelem;
    e->nbytes = nbytes;
    int64_t b, en;
    if (!json_count(cJSON_GetArrayItem(off, 0), &b) || !json_count(cJSON_GetArrayItem(off, 1), &en))
        return fr_error(FR_EFORMAT, "safetensors: tensor '%s' data_offsets are not sizes", name);
    if (b > en)
        return fr_error(FR_EFORMAT, "safetensors: tensor '%s' data_offsets begin %lld > end %lld",
                        name, (long long)b, (long long)en);
    if ((uint64_t)en > data_size)
        return fr_error(FR_EFORMAT,
                        "safetensors: tensor '%s' data_offsets end %lld past the data section "
                        "(%llu bytes)",
                        name, (long long)en, (unsigned long long)data_size);
    if ((uint64_t)(en - b) != (uint64_t)nbytes) {
        char buf[160];
        return fr_error(FR_EFORMAT,
                        "safetensors: tensor '%s' has %lld data bytes but %s %s needs %zu", name,
                        (long long)(en - b), ST_DTYPES[k].name,
                        shape_str(e->shape, ndim, buf, sizeof buf), nbytes);
    }
    e->begin = (uint64_t)b;
    e->end = (uint64_t)en;
    return 0;
}

/* Offset of the first NUL in the JSON text t[0..n): a raw byte or a
 * "\u0000" escape; SIZE_MAX if none. Only text cJSON accepted comes here,
 * so a backslash always starts an escape inside a string. */
static size_t find_nul(const char *t, size_t n) {
    const char *z = memchr(t, 0, n);
    if (z) return (size_t)(z - t);
    for (size_t i = 0; i + 1 < n; i++) {
        if (t[i] != '\\') continue;
        if (t[i + 1] == 'u' && n - i >= 6 && memcmp(t + i + 2, "0000", 4) == 0) return i;
        i++; /* the escaped character, so "\\u0000" is not a NUL */
    }
    return SIZE_MAX;
}

static int cmp_offset(const void *a, const void *b) {
    const struct fr_st_entry *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int cmp_name_ptr(const void *a, const void *b) {
    const struct fr_st_entry *const *x = a, *const *y = b;
    return strcmp((*x)->name, (*y)->name);
}

/* Validates the header of bytes[0..size) and fills f (bytes already set). */
static int parse_header(struct fr_st_file *f) {
    int rc = 0;
    cJSON *root = NULL;
    char *text = NULL;
    if (f->size < 8)
        return fr_error(FR_EFORMAT, "safetensors: file is %zu bytes, too short for a header",
                        f->size);
    uint64_t hlen = rd_le64(f->bytes);
    if (hlen > FR_ST_MAX_HEADER)
        return fr_error(FR_EFORMAT, "safetensors: header length %llu exceeds the %llu byte limit",
                        (unsigned long long)hlen, (unsigned long long)FR_ST_MAX_HEADER);
    if (hlen > f->size - 8)
        return fr_error(FR_EFORMAT,
                        "safetensors: header length %llu runs past the end of the file (%zu bytes)",
                        (unsigned long long)hlen, f->size);
    if (hlen < 2)
        return fr_error(FR_EFORMAT, "safetensors: header length %llu is too short",
                        (unsigned long long)hlen);
    f->header_len = hlen;
    uint64_t data_size = f->size - 8 - hlen;

    text = malloc(hlen + 1);
    if (!text) return fr_error(FR_ENOMEM, "safetensors: out of memory for the header");
    memcpy(text, f->bytes + 8, hlen);
    text[hlen] = 0;
    const char *end = NULL;
    root = cJSON_ParseWithLengthOpts(text, hlen, &end, 0);
    if (!root) {
        size_t at = end && end >= text ? (size_t)(end - text) : 0;
        rc = fr_error(FR_EFORMAT, "safetensors: header is not valid JSON (near byte %zu)", at);
        goto cleanup;
    }
    for (const char *p = end; p < text + hlen; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            rc = fr_error(FR_EFORMAT, "safetensors: trailing bytes after the header JSON");
            goto cleanup;
        }
    size_t nul = find_nul(text, (size_t)(end - text));
    if (nul != SIZE_MAX) {
        rc = fr_error(FR_EFORMAT,
                      "safetensors: header has a NUL character at byte %zu; tensor names and "
                      "metadata cannot contain NUL",
                      nul);
        goto cleanup;
    }
    if (!cJSON_IsObject(root)) {
        rc = fr_error(FR_EFORMAT, "safetensors: header JSON is not an object");
        goto cleanup;
    }

    /* count, and size the string pool */
    int n = 0, nmeta = 0;
    size_t pool = 0;
    const cJSON *meta = NULL, *it;
    cJSON_ArrayForEach(it, root) {
        if (!it->string) continue;
        if (strcmp(it->string, "__metadata__") == 0) {
            if (meta) {
                rc = fr_error(FR_EFORMAT, "safetensors: __metadata__ appears twice");
                goto cleanup;
            }
            meta = it;
            if (cJSON_IsNull(it)) continue;
            if (!cJSON_IsObject(it)) {
                rc = fr_error(FR_EFORMAT, "safetensors: __metadata__ is not an object");
                goto cleanup;
            }
            const cJSON *kv;
            cJSON_ArrayForEach(kv, it) {
                if (!kv->string || !cJSON_IsString(kv)) {
                    char a[72];
                    rc = fr_error(FR_EFORMAT,
                                  "safetensors: __metadata__ value of '%s' is not a "
                                  "string",
                                  disp(kv->string ? kv->string : "?", a));
                    goto cleanup;
                }
                pool += strsize(kv->string) + strsize(kv->valuestring);
                nmeta++;
            }
        } else {
            pool += strsize(it->string);
            n++;
        }
    }
    f->entries = calloc((size_t)n + 1, sizeof *f->entries);
    f->by_name = calloc((size_t)n + 1, sizeof *f->by_name);
    f->meta_keys = calloc((size_t)nmeta + 1, sizeof *f->meta_keys);
    f->meta_vals = calloc((size_t)nmeta + 1, sizeof *f->meta_vals);
    f->strings = malloc(pool + 1);
    if (!f->entries || !f->by_name || !f->meta_keys || !f->meta_vals || !f->strings) {
        rc = fr_error(FR_ENOMEM, "safetensors: out of memory for %d header entries", n);
        goto cleanup;
    }
    char *cur = f->strings;
    cJSON_ArrayForEach(it, root) {
        if (!it->string || it == meta) continue;
        struct fr_st_entry *e = &f->entries[f->n];
        e->name = put_str(&cur, it->string);
        char nb[72];
        if ((rc = parse_entry(it, e, disp(e->name, nb), data_size))) goto cleanup;
        e->data = f->bytes + 8 + hlen + e->begin;
        f->n++;
    }
    if (meta && cJSON_IsObject(meta)) {
        const cJSON *kv;
        cJSON_ArrayForEach(kv, meta) {
            f->meta_keys[f->nmeta] = put_str(&cur, kv->string);
            f->meta_vals[f->nmeta] = put_str(&cur, kv->valuestring);
            f->nmeta++;
        }
    }

    qsort(f->entries, (size_t)f->n, sizeof *f->entries, cmp_offset);
    for (int i = 1; i < f->n; i++)
        if (f->entries[i].begin < f->entries[i - 1].end) {
            char a[72], b[72];
            rc = fr_error(FR_EFORMAT, "safetensors: tensors '%s' and '%s' overlap in the data",
                          disp(f->entries[i - 1].name, a), disp(f->entries[i].name, b));
            goto cleanup;
        }
    for (int i = 0; i < f->n; i++)
        f->by_name[i] = &f->entries[i];
    qsort(f->by_name, (size_t)f->n, sizeof *f->by_name, cmp_name_ptr);
    for (int i = 1; i < f->n; i++)
        if (strcmp(f->by_name[i]->name, f->by_name[i - 1]->name) == 0) {
            char a[72];
            rc = fr_error(FR_EFORMAT, "safetensors: duplicate tensor name '%s'",
                          disp(f->by_name[i]->name, a));
            goto cleanup;
        }
cleanup:
    cJSON_Delete(root);
    free(text);
    return rc;
}

void fr_st_close(struct fr_st_file *f) {
    if (!f) return;
    if (f->mapped && f->bytes) munmap((void *)f->bytes, f->size);
    free(f->entries);
    free(f->by_name);
    free(f->meta_keys);
    free(f->meta_vals);
    free(f->strings);
    free(f);
}

int fr_st_open_mem(const void *bytes, size_t size, struct fr_st_file **out) {
    *out = NULL;
    struct fr_st_file *f = calloc(1, sizeof *f);
    if (!f) return fr_error(FR_ENOMEM, "safetensors: out of memory");
    f->bytes = bytes;
    f->size = size;
    int rc = parse_header(f);
    if (rc) {
        fr_st_close(f);
        return rc;
    }
    *out = f;
    return 0;
}

/* Prefixes the current error message with the path. */
static int with_path(int rc, const char *path) {
    char msg[512];
    snprintf(msg, sizeof msg, "%s", fr_last_error());
    return fr_error(rc, "%s: %s", path, msg);
}

int fr_st_open(const char *path, struct fr_st_file **out) {
    *out = NULL;
    int64_t size = 0;
    int rc = 0, fd = fr_open_regular(path, &size);
    struct fr_st_file *f = NULL;
    if (fd < 0) return fd;
    if (size < 8) {
        rc = fr_error(FR_EFORMAT, "%s: safetensors: file is %lld bytes, too short for a header",
                      path, (long long)size);
        goto cleanup;
    }
    f = calloc(1, sizeof *f);
    if (!f) {
        rc = fr_error(FR_ENOMEM, "safetensors: out of memory");
        goto cleanup;
    }
    void *m = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) {
        rc = fr_error(FR_EIO, "%s: cannot map: %s", path, strerror(errno));
        goto cleanup;
    }
    f->bytes = m;
    f->size = (size_t)size;
    f->mapped = 1;
    if ((rc = parse_header(f))) rc = with_path(rc, path);
cleanup:
    close(fd);
    if (rc)
        fr_st_close(f);
    else
        *out = f;
    return rc;
}

const struct fr_st_entry *fr_st_find(const struct fr_st_file *f, const char *name) {
    int lo = 0, hi = f->n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        const struct fr_st_entry *e = f->by_name[mid];
        int c = strcmp(name, e->name);
        if (c == 0) return e;
        if (c < 0)
            hi = mid - 1;
        else
            lo = mid + 1;
    }
    return NULL;
}

const char *fr_st_meta(const struct fr_st_file *f, const char *key) {
    for (int i = 0; i < f->nmeta; i++)
        if (strcmp(f->meta_keys[i], key) == 0) return f->meta_vals[i];
    return NULL;
}

void fr_st_entry_to_f32(const struct fr_st_entry *e, float *dst) {
    const uint8_t *p = e->data;
    int64_t n = e->nelem;
    switch (e->dtype) {
    case FR_F32:
        memcpy(dst, p, (size_t)n * 4);
        break;
    case FR_F64:
        for (int64_t i = 0; i < n; i++) {
            double v;
            memcpy(&v, p + 8 * i, 8);
            dst[i] = (float)v;
        }
        break;
    case FR_F16:
    case FR_BF16:
        for (int64_t i = 0; i < n; i++) {
            uint16_t h = (uint16_t)(p[2 * i] | p[2 * i + 1] << 8);
            dst[i] = e->dtype == FR_F16 ? f16_to_f32(h) : bf16_to_f32(h);
        }
        break;
    case FR_I32:
        for (int64_t i = 0; i < n; i++) {
            int32_t v;
            memcpy(&v, p + 4 * i, 4);
            dst[i] = (float)v;
        }
        break;
    case FR_I64:
        for (int64_t i = 0; i < n; i++) {
            int64_t v;
            memcpy(&v, p + 8 * i, 8);
            dst[i] = (float)v;
        }
        break;
    case FR_U8:
        for (int64_t i = 0; i < n; i++)
            dst[i] = (float)p[i];
        break;
    case FR_I8:
        for (int64_t i = 0; i < n; i++)
            dst[i] = (float)(int8_t)p[i];
        break;
    default:
        break;
    }
}

int fr_st_entry_ne(const struct fr_st_entry *e, int *ndim, int64_t ne[FR_MAX_DIMS]) {
    if (e->ndim > FR_MAX_DIMS)
        return fr_error(FR_EINVAL, "tensor '%s' has %d dims; frugal tensors have at most %d",
                        e->name, e->ndim, FR_MAX_DIMS);
    for (int d = 0; d < FR_MAX_DIMS; d++)
        ne[d] = 1;
    for (int d = 0; d < e->ndim; d++)
        ne[d] = e->shape[e->ndim - 1 - d];
    *ndim = e->ndim ? e->ndim : 1;
    return 0;
}

int fr_st_check_shape(const struct fr_st_entry *e, int ndim, const int64_t *ne) {
    int64_t want[FR_ST_MAX_DIMS];
    int ok = e->ndim == ndim && ndim <= FR_ST_MAX_DIMS;
    for (int d = 0; d < ndim && d < FR_ST_MAX_DIMS; d++) {
        want[d] = ne[ndim - 1 - d];
        if (ok && e->shape[d] != want[d]) ok = 0;
    }
    if (ok) return 0;
    char a[160], b[160];
    return fr_error(FR_EINVAL, "tensor '%s': file shape %s but expected %s", e->name,
                    shape_str(e->shape, e->ndim, a, sizeof a),
                    shape_str(want, ndim < FR_ST_MAX_DIMS ? ndim : FR_ST_MAX_DIMS, b, sizeof b));
}

int fr_st_check_finite(const struct fr_st_entry *e) {
    int64_t i = fr_first_nonfinite(e->data, e->dtype, e->nelem);
    if (e->dtype == FR_F64) /* rare: also within f32, which every reader converts to */
        for (int64_t k = 0, end = i < 0 ? e->nelem : i; k < end; k++) {
            double d;
            memcpy(&d, (const uint8_t *)e->data + 8 * k, 8);
            if (isinf((float)d)) {
                i = k;
                break;
            }
        }
    if (i < 0) return 0;
    float v;
    fr_st_entry_to_f32(
        &(struct fr_st_entry){.dtype = e->dtype,
                              .nelem = 1,
                              .data = (const uint8_t *)e->data + (size_t)i * dt_size(e->dtype)},
        &v);
    char a[72];
    return fr_error(FR_EFORMAT, "tensor '%s' element %lld is %s: weights must be finite",
                    disp(e->name, a), (long long)i,
                    isnan(v) ? "NaN"
                    : v > 0  ? "+inf"
                             : "-inf");
}

int fr_st_read_f32(const struct fr_st_file *f, const char *name, float *dst, int64_t n) {
    const struct fr_st_entry *e = fr_st_find(f, name);
    if (!e) return fr_error(FR_ENOTFOUND, "safetensors: no tensor named '%s'", name);
    if (e->nelem != n)
        return fr_error(FR_EINVAL, "tensor '%s' has %lld elements, expected %lld", name,
                        (long long)e->nelem, (long long)n);
    fr_st_entry_to_f32(e, dst);
    return 0;
}

/* ---------------- writing ---------------- */

static int add_count_array(cJSON *obj, const char *key, const int64_t *v, int n) {
    cJSON *arr = cJSON_AddArrayToObject(obj, key);
    if (!arr) return -1;
    for (int i = 0; i < n; i++) {
        char buf[32];
        snprintf(buf, sizeof buf, "%lld", (long long)v[i]);
        cJSON *num = cJSON_CreateRaw(buf); /* exact integers, never exponent notation */
        if (!num || !cJSON_AddItemToArray(arr, num)) {
            cJSON_Delete(num);
            return -1;
        }
    }
    return 0;
}

static enum fr_dtype stored_dtype(const struct fr_st_out *t) {
    return t->dtype == FR_F32 ? t->store : t->dtype;
}

static int check_out(const struct fr_st_out *t, int n, int64_t *nelem) {
    for (int i = 0; i < n; i++) {
        const char *name = t[i].name;
        if (!name || !name[0])
            return fr_error(FR_EINVAL, "safetensors write: tensor %d has no name", i);
        if (strcmp(name, "__metadata__") == 0)
            return fr_error(FR_EINVAL, "safetensors write: '__metadata__' is reserved");
        if (!dt_name(t[i].dtype))
            return fr_error(FR_EINVAL, "safetensors write: tensor '%s' has unsupported dtype %d",
                            name, (int)t[i].dtype);
        enum fr_dtype s = stored_dtype(&t[i]);
        if (s != FR_F32 && s != FR_F16 && s != FR_BF16 && s != t[i].dtype)
            return fr_error(FR_EINVAL, "safetensors write: tensor '%s' cannot be stored as %d",
                            name, (int)s);
        if (t[i].ndim < 0 || t[i].ndim > FR_MAX_DIMS)
            return fr_error(FR_EINVAL, "safetensors write: tensor '%s' has ndim %d", name,
                            t[i].ndim);
        int64_t ne = 1;
        for (int d = 0; d < t[i].ndim; d++)
            if (t[i].ne[d] < 0 || __builtin_mul_overflow(ne, t[i].ne[d], &ne))
                return fr_error(FR_EINVAL, "safetensors write: tensor '%s' has a bad shape", name);
        if (ne > 0 && !t[i].data)
            return fr_error(FR_EINVAL, "safetensors write: tensor '%s' has no data", name);
        nelem[i] = ne;
        for (int j = 0; j < i; j++)
            if (strcmp(t[j].name, name) == 0)
                return fr_error(FR_EINVAL, "safetensors write: duplicate tensor name '%s'", name);
    }
    return 0;
}

/* The header JSON, space-padded to a multiple of 8 bytes; malloc'd. */
static char *build_header(const struct fr_st_out *t, int n, const int64_t *nelem,
                          const char *const *mk, const char *const *mv, int nmeta, size_t *len) {
    char *text = NULL, *out = NULL;
    cJSON *root = cJSON_CreateObject();
    if (!root) goto cleanup;
    if (nmeta > 0) {
        cJSON *meta = cJSON_AddObjectToObject(root, "__metadata__");
        if (!meta) goto cleanup;
        for (int i = 0; i < nmeta; i++)
            if (!mk[i] || !mv[i] || !cJSON_AddStringToObject(meta, mk[i], mv[i])) goto cleanup;
    }
    int64_t off = 0;
    for (int i = 0; i < n; i++) {
        cJSON *o = cJSON_AddObjectToObject(root, t[i].name);
        if (!o || !cJSON_AddStringToObject(o, "dtype", dt_name(stored_dtype(&t[i])))) goto cleanup;
        int64_t shape[FR_MAX_DIMS];
        for (int d = 0; d < t[i].ndim; d++)
            shape[d] = t[i].ne[t[i].ndim - 1 - d];
        int64_t range[2] = {off, off + nelem[i] * (int64_t)dt_size(stored_dtype(&t[i]))};
        if (add_count_array(o, "shape", shape, t[i].ndim) ||
            add_count_array(o, "data_offsets", range, 2))
            goto cleanup;
        off = range[1];
    }
    text = cJSON_PrintUnformatted(root);
    if (!text) goto cleanup;
    size_t l = strlen(text), padded = (l + 7) & ~(size_t)7;
    out = malloc(padded);
    if (!out) goto cleanup;
    memcpy(out, text, l);
    memset(out + l, ' ', padded - l);
    *len = padded;
cleanup:
    free(text);
    cJSON_Delete(root);
    return out;
}

static int write_data(struct fr_atomic *a, const struct fr_st_out *t, int64_t n) {
    enum fr_dtype s = stored_dtype(t);
    if (s == t->dtype) return fr_atomic_write(a, t->data, (size_t)n * dt_size(s));
    uint16_t buf[4096];
    const float *x = t->data;
    for (int64_t i = 0; i < n; i += 4096) {
        int64_t m = n - i < 4096 ? n - i : 4096;
        for (int64_t k = 0; k < m; k++)
            buf[k] = s == FR_F16 ? f32_to_f16(x[i + k]) : f32_to_bf16(x[i + k]);
        if (fr_atomic_write(a, buf, 2 * (size_t)m)) return FR_EIO;
    }
    return 0;
}

int fr_st_write(const char *path, const struct fr_st_out *t, int n, const char *const *meta_keys,
                const char *const *meta_vals, int nmeta) {
    int rc = 0;
    char *header = NULL;
    int64_t *nelem = NULL;
    if (n < 0 || nmeta < 0) return fr_error(FR_EINVAL, "safetensors write: negative count");
    nelem = calloc((size_t)n + 1, sizeof *nelem);
    if (!nelem) return fr_error(FR_ENOMEM, "safetensors write: out of memory");
    if ((rc = check_out(t, n, nelem))) goto cleanup;
    size_t hlen = 0;
    header = build_header(t, n, nelem, meta_keys, meta_vals, nmeta, &hlen);
    if (!header) {
        rc = fr_error(FR_ENOMEM, "safetensors write: cannot build the header");
        goto cleanup;
    }
    struct fr_atomic a;
    if ((rc = fr_atomic_open(&a, path, "safetensors write"))) goto cleanup;
    uint8_t len8[8];
    for (int i = 0; i < 8; i++)
        len8[i] = (uint8_t)((uint64_t)hlen >> (8 * i));
    fr_atomic_write(&a, len8, 8);
    fr_atomic_write(&a, header, hlen);
    for (int i = 0; i < n && !a.err; i++)
        write_data(&a, &t[i], nelem[i]);
    rc = fr_atomic_commit(&a); /* reports the first failed write, removes the temporary */
cleanup:
    free(header);
    free(nelem);
    return rc;
}

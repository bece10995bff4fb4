/* test_safetensors.c: safetensors reading and writing, checkpoints of a
 * parameter slab, and `frugal info`.
 *
 * Round trips (every dtype, f16/bf16 rounding checked bit for bit against
 * the compiler's _Float16 and an independent nearest-even reference, scalars,
 * empty tensors, metadata, a thousand tensors), a hand-written file in the
 * Hugging Face layout, every malformed-header case we know of (built here with
 * fwrite), atomic replacement, params save/load with its errors, and the
 * parameter / trainer-state counts `frugal info` prints (fr_st_count).
 */
#include "check.h"
#include "frugal/io.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int file_exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

static uint32_t f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* Nearest-even bf16 by brute force: the two bf16 neighbours of f, compared
 * in double. */
static uint16_t ref_bf16(float f) {
    uint32_t u = f32_bits(f);
    if ((u & 0x7fffffff) > 0x7f800000) return 0xffff; /* NaN: not compared bitwise */
    uint16_t lo = (uint16_t)(u >> 16), hi = (uint16_t)(lo + 1);
    double a = bits_f32((uint32_t)lo << 16), b = bits_f32((uint32_t)hi << 16);
    double da = fabs((double)f - a), db = fabs((double)f - b);
    if ((u & 0xffff) == 0) return lo;
    if (isinf(b)) db = ((u & 0x7fffffff) >= 0x7f7f8000) ? 0 : 1e300; /* past the top: inf */
    if (da < db) return lo;
    if (db < da) return hi;
    return (lo & 1) ? hi : lo;
}

static uint16_t rd16(const void *p, int64_t i) {
    const uint8_t *b = p;
    return (uint16_t)(b[2 * i] | b[2 * i + 1] << 8);
}

static void test_round_trip(void) {
    struct fr_rng r;
    fr_rng_seed(&r, 7);
    enum { N = 4096 };
    static float f[N];
    static int32_t i32[6] = {-7, 0, 1, 2147483647, -2147483647 - 1, 42};
    static int64_t i64[3] = {-1, (int64_t)1 << 40, 9};
    static uint8_t u8[5] = {0, 1, 127, 128, 255};
    static double f64[4] = {1.0, -2.5, 1e-40, 3.0e38};
    float scalar = 3.25f;
    fr_rng_fill_normal(&r, f, N, 0, 100);
    /* edge values: ties, subnormals, overflow, specials */
    float edge[] = {0.0f,
                    -0.0f,
                    65504.0f,
                    65519.0f,
                    65520.0f,
                    1e6f,
                    -1e6f,
                    0x1p-24f,
                    0x1p-25f,
                    0x1.8p-25f,
                    0x1p-14f,
                    0x1.ffcp-15f,
                    1.0f + 0x1p-11f,
                    1.0f + 0x3p-11f,
                    1.0f + 0x1p-8f,
                    1.0f + 0x3p-8f,
                    INFINITY,
                    -INFINITY,
                    NAN,
                    3.3895314e38f,
                    3.4028235e38f,
                    1e-45f,
                    -0x1.4p-20f};
    int ne_edge = (int)(sizeof edge / sizeof edge[0]);
    memcpy(f, edge, sizeof edge);
    for (int i = 0; i < 64; i++) /* exact bf16 ties */
        f[100 + i] = bits_f32((f32_bits(f[200 + i]) & 0xffff0000u) | 0x8000u);

    struct fr_st_out t[] = {
        {.name = "w32", .dtype = FR_F32, .ndim = 2, .ne = {64, 64}, .data = f},
        {.name = "w16", .dtype = FR_F32, .store = FR_F16, .ndim = 3, .ne = {16, 16, 16}, .data = f},
        {.name = "wbf", .dtype = FR_F32, .store = FR_BF16, .ndim = 1, .ne = {N}, .data = f},
        {.name = "i32", .dtype = FR_I32, .ndim = 2, .ne = {3, 2}, .data = i32},
        {.name = "i64", .dtype = FR_I64, .ndim = 1, .ne = {3}, .data = i64},
        {.name = "u8", .dtype = FR_U8, .ndim = 1, .ne = {5}, .data = u8},
        {.name = "f64", .dtype = FR_F64, .ndim = 4, .ne = {1, 2, 1, 2}, .data = f64},
        {.name = "scalar", .dtype = FR_F32, .ndim = 0, .data = &scalar},
        {.name = "empty", .dtype = FR_F32, .ndim = 2, .ne = {0, 3}, .data = NULL},
    };
    int nt = (int)(sizeof t / sizeof t[0]);
    const char *mk[] = {"format", "arch"}, *mv[] = {"pt", "{\"model\": \"mlp\", \"depth\": 2}"};
    const char *path = check_tmp("rt.safetensors");
    CHECK(fr_st_write(path, t, nt, mk, mv, 2) == 0, "write: %s", fr_last_error());
    CHECK(!file_exists(check_tmp("rt.safetensors.tmp")), "tmp file left behind");
    struct fr_st_file *sf = NULL;
    CHECK(fr_st_open(path, &sf) == 0, "open: %s", fr_last_error());
    if (!sf) return;
    CHECK(sf->n == nt, "entries %d", sf->n);
    CHECK(sf->header_len % 8 == 0, "header length %llu not padded to 8",
          (unsigned long long)sf->header_len);
    CHECK(fr_st_meta(sf, "format") && strcmp(fr_st_meta(sf, "format"), "pt") == 0, "meta format");
    CHECK(fr_st_meta(sf, "arch") && strcmp(fr_st_meta(sf, "arch"), mv[1]) == 0, "meta arch");
    CHECK(fr_st_meta(sf, "nope") == NULL, "missing meta key");
    CHECK(fr_st_find(sf, "nope") == NULL, "missing tensor");

    const struct fr_st_entry *e = fr_st_find(sf, "w32");
    CHECK(e && e->dtype == FR_F32 && e->ndim == 2 && e->shape[0] == 64 && e->shape[1] == 64,
          "w32 header");
    static float back[N];
    CHECK(fr_st_read_f32(sf, "w32", back, N) == 0, "read w32");
    CHECK(memcmp(back, f, sizeof f) == 0, "w32 not bit-exact");
    CHECK(fr_st_read_f32(sf, "w32", back, N - 1) == FR_EINVAL, "count mismatch accepted");
    CHECK(fr_st_read_f32(sf, "zz", back, N) == FR_ENOTFOUND, "missing name accepted");

    e = fr_st_find(sf, "w16");
    CHECK(e && e->dtype == FR_F16 && e->ndim == 3 && e->nbytes == 2 * N, "w16 header");
    int bad16 = 0, bad_bf = 0;
    for (int i = 0; e && i < N; i++) {
        _Float16 h = (_Float16)f[i];
        uint16_t want;
        memcpy(&want, &h, 2);
        uint16_t got = rd16(e->data, i);
        if (isnan(f[i]) ? (got & 0x7c00) != 0x7c00 || !(got & 0x3ff) : got != want) {
            if (bad16++ < 5)
                fprintf(stderr, "f16 of %a: got %04x want %04x\n", (double)f[i], got, want);
        }
    }
    CHECK(bad16 == 0, "%d f16 roundings differ from _Float16", bad16);
    fr_st_read_f32(sf, "w16", back, N);
    for (int i = 0; i < N; i++)
        if (!isnan(f[i]) && back[i] != (float)(_Float16)f[i]) bad16++;
    CHECK(bad16 == 0, "%d f16 values decode wrong", bad16);

    e = fr_st_find(sf, "wbf");
    CHECK(e && e->dtype == FR_BF16 && e->ndim == 1 && e->shape[0] == N, "wbf header");
    for (int i = 0; e && i < N; i++) {
        uint16_t got = rd16(e->data, i), want = ref_bf16(f[i]);
        int ok = isnan(f[i]) ? ((got & 0x7f80) == 0x7f80 && (got & 0x7f)) : got == want;
        if (!ok && bad_bf++ < 5)
            fprintf(stderr, "bf16 of %a: got %04x want %04x\n", (double)f[i], got, want);
    }
    CHECK(bad_bf == 0, "%d bf16 roundings differ from the reference", bad_bf);
    fr_st_read_f32(sf, "wbf", back, N);
    for (int i = 0; i < N; i++)
        if (!isnan(f[i]) && back[i] != bits_f32((uint32_t)ref_bf16(f[i]) << 16)) bad_bf++;
    CHECK(bad_bf == 0, "%d bf16 values decode wrong", bad_bf);

    float v[8];
    CHECK(fr_st_read_f32(sf, "i32", v, 6) == 0 && v[0] == -7 && v[3] == 2147483647.0f, "i32");
    e = fr_st_find(sf, "i32");
    CHECK(e && e->shape[0] == 2 && e->shape[1] == 3 && memcmp(e->data, i32, sizeof i32) == 0,
          "i32 bytes / PyTorch order");
    int nd = 0;
    int64_t ne[4];
    CHECK(e && fr_st_entry_ne(e, &nd, ne) == 0 && nd == 2 && ne[0] == 3 && ne[1] == 2 && ne[2] == 1,
          "entry_ne");
    CHECK(e && fr_st_check_shape(e, 2, (int64_t[]){3, 2}) == 0, "check_shape ok");
    CHECK(e && fr_st_check_shape(e, 2, (int64_t[]){2, 3}) == FR_EINVAL &&
              strstr(fr_last_error(), "(2, 3)") && strstr(fr_last_error(), "(3, 2)"),
          "check_shape message: %s", fr_last_error());
    CHECK(fr_st_read_f32(sf, "i64", v, 3) == 0 && v[0] == -1 && v[1] == 1099511627776.0f, "i64");
    CHECK(fr_st_read_f32(sf, "u8", v, 5) == 0 && v[4] == 255 && v[3] == 128, "u8");
    CHECK(fr_st_read_f32(sf, "f64", v, 4) == 0 && v[1] == -2.5f && v[3] == 3.0e38f, "f64");
    e = fr_st_find(sf, "f64");
    CHECK(e && e->ndim == 4 && e->shape[0] == 2 && e->shape[3] == 1, "f64 shape");
    e = fr_st_find(sf, "scalar");
    CHECK(e && e->ndim == 0 && e->nelem == 1, "scalar header");
    CHECK(fr_st_read_f32(sf, "scalar", v, 1) == 0 && v[0] == 3.25f, "scalar value");
    CHECK(e && fr_st_entry_ne(e, &nd, ne) == 0 && nd == 1 && ne[0] == 1, "scalar ne");
    e = fr_st_find(sf, "empty");
    CHECK(e && e->nelem == 0 && e->nbytes == 0 && e->shape[0] == 3 && e->shape[1] == 0, "empty");
    /* entries are in offset order, contiguous, and the last ends the file */
    for (int i = 1; i < sf->n; i++)
        CHECK(sf->entries[i].begin == sf->entries[i - 1].end, "offsets not contiguous at %d", i);
    CHECK(8 + sf->header_len + sf->entries[sf->n - 1].end == sf->size, "file has slack");
    fr_st_close(sf);
    (void)ne_edge;

    /* every f16 bit pattern decodes like the compiler's _Float16 */
    static uint16_t all16[65536];
    static float all_f[65536];
    for (int i = 0; i < 65536; i++)
        all16[i] = (uint16_t)i;
    struct fr_st_out h = {.name = "h", .dtype = FR_F16, .ndim = 1, .ne = {65536}, .data = all16};
    CHECK(fr_st_write(path, &h, 1, NULL, NULL, 0) == 0, "write f16: %s", fr_last_error());
    CHECK(fr_st_open(path, &sf) == 0, "open f16");
    int bad = 0;
    if (sf) {
        fr_st_read_f32(sf, "h", all_f, 65536);
        for (int i = 0; i < 65536; i++) {
            _Float16 x;
            memcpy(&x, &all16[i], 2);
            float want = (float)x;
            if (isnan(want) ? !isnan(all_f[i]) : f32_bits(all_f[i]) != f32_bits(want)) bad++;
        }
        fr_st_close(sf);
    }
    CHECK(bad == 0, "%d f16 bit patterns decode wrong", bad);
}

static void test_many(void) {
    enum { NT = 1000 };
    static struct fr_st_out t[NT];
    static char names[NT][32];
    static float data[NT * 7];
    for (int i = 0; i < NT; i++) {
        snprintf(names[i], sizeof names[i], "layer.%d.w", (i * 7919) % NT);
        for (int k = 0; k < 1 + i % 7; k++)
            data[i * 7 + k] = (float)(i * 10 + k);
        t[i] = (struct fr_st_out){
            .name = names[i], .dtype = FR_F32, .ndim = 1, .ne = {1 + i % 7}, .data = &data[i * 7]};
    }
    const char *path = check_tmp("many.safetensors");
    CHECK(fr_st_write(path, t, NT, NULL, NULL, 0) == 0, "write many: %s", fr_last_error());
    struct fr_st_file *sf;
    CHECK(fr_st_open(path, &sf) == 0, "open many: %s", fr_last_error());
    if (!sf) return;
    int bad = 0;
    for (int i = 0; i < NT; i++) {
        const struct fr_st_entry *e = fr_st_find(sf, names[i]);
        float v[7];
        if (!e || e->nelem != 1 + i % 7) {
            bad++;
            continue;
        }
        fr_st_entry_to_f32(e, v);
        for (int k = 0; k < 1 + i % 7; k++)
            bad += v[k] != (float)(i * 10 + k);
    }
    CHECK(bad == 0, "%d of %d tensors wrong", bad, NT);
    CHECK(sf->nmeta == 0, "no metadata expected");
    fr_st_close(sf);
}

/* A file: u64 header length (hlen_override if nonzero), header, ndata bytes. */
static const char *write_raw(const char *name, const char *header, size_t ndata,
                             uint64_t hlen_override) {
    const char *path = check_tmp(name);
    FILE *fp = fopen(path, "wb");
    uint64_t hl = hlen_override ? hlen_override : strlen(header);
    uint8_t len8[8];
    for (int i = 0; i < 8; i++)
        len8[i] = (uint8_t)(hl >> (8 * i));
    fwrite(len8, 1, 8, fp);
    fwrite(header, 1, strlen(header), fp);
    for (size_t i = 0; i < ndata; i++)
        fputc((int)(i * 31), fp);
    fclose(fp);
    return path;
}

static void expect_bad(const char *what, const char *path, const char *needle) {
    struct fr_st_file *sf = (struct fr_st_file *)1;
    fr_clear_error();
    int rc = fr_st_open(path, &sf);
    const char *m = fr_last_error();
    CHECK(rc == FR_EFORMAT, "%s: rc %d (%s)", what, rc, m);
    CHECK(sf == NULL, "%s: out not cleared", what);
    CHECK(m[0] && !strchr(m, '\n'), "%s: message not one line: '%s'", what, m);
    CHECK(strstr(m, needle) != NULL, "%s: message '%s' lacks '%s'", what, m, needle);
}

static void test_malformed(void) {
    /* a well-formed file in the Hugging Face layout, written by hand */
    const char *ok = "{\"__metadata__\":{\"format\":\"pt\"},"
                     "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]},"
                     "\"a\":{\"dtype\":\"BF16\",\"shape\":[2,2],\"data_offsets\":[0,8]}}  ";
    struct fr_st_file *sf = NULL;
    CHECK(fr_st_open(write_raw("ok.st", ok, 16, 0), &sf) == 0, "hand-written file: %s",
          fr_last_error());
    if (sf) {
        CHECK(sf->n == 2 && strcmp(sf->entries[0].name, "a") == 0, "offset order");
        CHECK(sf->entries[1].data == sf->bytes + 8 + strlen(ok) + 8, "data pointer");
        CHECK(fr_st_find(sf, "a")->dtype == FR_BF16, "dtype");
        fr_st_close(sf);
    }
    const char *bool_ok = "{\"m\":{\"dtype\":\"BOOL\",\"shape\":[3],\"data_offsets\":[0,3]}}";
    CHECK(fr_st_open(write_raw("bool.st", bool_ok, 3, 0), &sf) == 0, "BOOL: %s", fr_last_error());
    if (sf) {
        CHECK(sf->entries[0].is_bool && sf->entries[0].dtype == FR_U8, "BOOL maps to U8");
        fr_st_close(sf);
    }
    const char *null_meta = "{\"__metadata__\":null,\"m\":{\"dtype\":\"U8\",\"shape\":[],"
                            "\"data_offsets\":[0,1]}}";
    CHECK(fr_st_open(write_raw("nullmeta.st", null_meta, 1, 0), &sf) == 0, "null metadata: %s",
          fr_last_error());
    fr_st_close(sf);

    const char *t1 = "\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}";
    char buf[512];
    snprintf(buf, sizeof buf, "{%s}", t1);
    expect_bad("header length > 100 MB", write_raw("huge.st", buf, 8, (uint64_t)200 << 20),
               "limit");
    expect_bad("header length past EOF", write_raw("past.st", buf, 8, 4096), "past the end");
    expect_bad("header length 2^64-1", write_raw("max.st", buf, 8, UINT64_MAX), "limit");
    expect_bad("truncated data", write_raw("trunc.st", buf, 5, 0), "past the data section");
    expect_bad("bad JSON", write_raw("badjson.st", "{\"t\": {\"dtype\": ", 0, 0), "JSON");
    expect_bad("not an object", write_raw("arr.st", "[1, 2, 3]", 0, 0), "not an object");
    expect_bad("trailing garbage", write_raw("trail.st", "{} xyz", 0, 0), "trailing");
    expect_bad("tensor not an object", write_raw("tno.st", "{\"t\": 5}", 0, 0),
               "not a JSON object");
    expect_bad("missing dtype",
               write_raw("nodt.st", "{\"t\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8, 0),
               "dtype");
    expect_bad("missing shape",
               write_raw("nosh.st", "{\"t\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", 8, 0),
               "shape");
    expect_bad("missing offsets",
               write_raw("nooff.st", "{\"t\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, 0),
               "data_offsets");
    expect_bad("three offsets",
               write_raw("off3.st",
                         "{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4,8]}}", 8,
                         0),
               "data_offsets");
    expect_bad("unknown dtype",
               write_raw("f8.st",
                         "{\"t\":{\"dtype\":\"F8_E4M3\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2,
                         0),
               "unsupported dtype 'F8_E4M3'");
    expect_bad("offsets out of range",
               write_raw("oor.st",
                         "{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[100,108]}}", 8,
                         0),
               "past the data section");
    expect_bad("begin > end",
               write_raw("rev.st",
                         "{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8, 0),
               "begin 8 > end 0");
    expect_bad("negative offset",
               write_raw("negoff.st",
                         "{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[-8,0]}}", 8, 0),
               "not sizes");
    expect_bad("overlap",
               write_raw("ovl.st",
                         "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                         "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                         12, 0),
               "overlap");
    expect_bad("size != prod(shape) * dtype",
               write_raw("sz.st",
                         "{\"t\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, 0),
               "needs 12");
    expect_bad("negative dim",
               write_raw("negdim.st",
                         "{\"t\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, 0),
               "dim 0");
    expect_bad("fractional dim",
               write_raw("frac.st",
                         "{\"t\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,8]}}", 8,
                         0),
               "dim 0");
    expect_bad("dim past 2^53",
               write_raw("e300.st",
                         "{\"t\":{\"dtype\":\"F32\",\"shape\":[1e300],\"data_offsets\":[0,8]}}", 8,
                         0),
               "dim 0");
    expect_bad("dims overflowing",
               write_raw("ovf.st",
                         "{\"t\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],"
                         "\"data_offsets\":[0,8]}}",
                         8, 0),
               "overflows");
    expect_bad("bytes overflowing",
               write_raw("ovf2.st",
                         "{\"t\":{\"dtype\":\"F64\",\"shape\":[4294967296,4294967296],"
                         "\"data_offsets\":[0,8]}}",
                         8, 0),
               "overflows");
    expect_bad(
        "too many dims",
        write_raw("dims9.st",
                  "{\"t\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}",
                  1, 0),
        "dims");
    expect_bad("dim a string",
               write_raw("strdim.st",
                         "{\"t\":{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]}}", 8,
                         0),
               "dim 0");
    expect_bad("duplicate names",
               write_raw("dup.st",
                         "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                         "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                         8, 0),
               "duplicate tensor name 'a'");
    expect_bad("metadata not strings",
               write_raw("meta.st", "{\"__metadata__\":{\"epoch\":3}}", 0, 0), "not a string");
    expect_bad("metadata not an object", write_raw("meta2.st", "{\"__metadata__\":[1]}", 0, 0),
               "not an object");
    expect_bad("newline in name",
               write_raw("nl.st",
                         "{\"a\\nb\":{\"dtype\":\"X\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
                         0),
               "'a?b'");
    expect_bad("short file", write_raw("short.st", "", 0, 0) /* 8 bytes, header length 0 */,
               "too short");
    FILE *fp = fopen(check_tmp("tiny.st"), "wb");
    fwrite("\x01\x02\x03", 1, 3, fp);
    fclose(fp);
    expect_bad("3-byte file", check_tmp("tiny.st"), "too short");
    fclose(fopen(check_tmp("empty.st"), "wb"));
    expect_bad("empty file", check_tmp("empty.st"), "too short");
    CHECK(fr_st_open(check_tmp("does-not-exist.st"), &sf) == FR_EIO && sf == NULL, "missing file");
    CHECK(fr_st_open(check_tmpdir(), &sf) == FR_EIO, "directory accepted");

    /* the same checks from memory */
    uint8_t mem[64] = {5, 0, 0, 0, 0, 0, 0, 0, '[', '1', ']', ' ', ' '};
    CHECK(fr_st_open_mem(mem, 13, &sf) == FR_EFORMAT && sf == NULL, "open_mem bad");
    memcpy(mem, "\x02\0\0\0\0\0\0\0{}", 10);
    CHECK(fr_st_open_mem(mem, 10, &sf) == 0 && sf && sf->n == 0, "open_mem empty object");
    fr_st_close(sf);
    fr_st_close(NULL);
}

static void test_atomic(void) {
    const char *path = check_tmp("atomic.safetensors");
    float a[4] = {1, 2, 3, 4}, b[2] = {5, 6};
    struct fr_st_out ta = {.name = "x", .dtype = FR_F32, .ndim = 1, .ne = {4}, .data = a};
    struct fr_st_out tb = {.name = "x", .dtype = FR_F32, .ndim = 1, .ne = {2}, .data = b};
    CHECK(fr_st_write(path, &ta, 1, NULL, NULL, 0) == 0, "first write");
    CHECK(fr_st_write(path, &tb, 1, NULL, NULL, 0) == 0, "replacing write");
    CHECK(!file_exists(check_tmp("atomic.safetensors.tmp")), "tmp left after replace");
    struct fr_st_file *sf;
    CHECK(fr_st_open(path, &sf) == 0 && fr_st_find(sf, "x")->nelem == 2, "file not replaced");
    fr_st_close(sf);
    /* failed writes leave the old file and no tmp */
    struct stat before, after;
    stat(path, &before);
    struct fr_st_out dup[2] = {ta, tb};
    CHECK(fr_st_write(path, dup, 2, NULL, NULL, 0) == FR_EINVAL &&
              strstr(fr_last_error(), "duplicate"),
          "duplicate names written: %s", fr_last_error());
    struct fr_st_out neg = {.name = "y", .dtype = FR_F32, .ndim = 1, .ne = {-3}, .data = a};
    CHECK(fr_st_write(path, &neg, 1, NULL, NULL, 0) == FR_EINVAL, "negative dim written");
    struct fr_st_out bad_store = {
        .name = "y", .dtype = FR_F32, .store = FR_I8, .ndim = 1, .ne = {4}, .data = a};
    CHECK(fr_st_write(path, &bad_store, 1, NULL, NULL, 0) == FR_EINVAL, "F32 stored as I8");
    struct fr_st_out reserved = {
        .name = "__metadata__", .dtype = FR_F32, .ndim = 1, .ne = {4}, .data = a};
    CHECK(fr_st_write(path, &reserved, 1, NULL, NULL, 0) == FR_EINVAL, "reserved name written");
    stat(path, &after);
    CHECK(before.st_ino == after.st_ino && before.st_size == after.st_size, "old file changed");
    CHECK(!file_exists(check_tmp("atomic.safetensors.tmp")), "tmp left after failed write");
    CHECK(fr_st_write(check_tmp("no/such/dir/x.safetensors"), &ta, 1, NULL, NULL, 0) == FR_EIO,
          "write into a missing directory");
    CHECK(!file_exists(check_tmp("no/such/dir/x.safetensors.tmp")), "tmp in missing dir");
}

/* A tiny model: w {3, 4} (4 rows of 3), b {4}, a running-mean buffer {4}. */
static int make_params(struct fr_params *p, int64_t w_cols, int with_b, int with_extra) {
    fr_params_init(p);
    if (!fr_params_add(p, "fc.weight", 2, (int64_t[]){w_cols, 4}, FR_PARAM_PRUNABLE)) return -1;
    if (with_b && !fr_params_add(p, "fc.bias", 1, (int64_t[]){4}, FR_PARAM_NO_DECAY)) return -1;
    if (!fr_params_add(p, "bn.running_mean", 1, (int64_t[]){4}, FR_PARAM_BUFFER)) return -1;
    if (with_extra && !fr_params_add(p, "head.weight", 1, (int64_t[]){2}, 0)) return -1;
    return fr_params_alloc(p);
}

static void test_params(void) {
    struct fr_params p, q;
    struct fr_rng r;
    fr_rng_seed(&r, 11);
    CHECK(make_params(&p, 3, 1, 0) == 0, "params: %s", fr_last_error());
    fr_rng_fill_normal(&r, p.data, p.n, 0, 1);
    float m[64], v[64], m2[64] = {0}, v2[64] = {0};
    uint8_t rng_state[32], rng2[32] = {0};
    int64_t step = 1234, step2 = 0;
    CHECK(p.n <= 64, "slab too big for the test");
    fr_rng_fill_normal(&r, m, 64, 0, 1);
    fr_rng_fill_normal(&r, v, 64, 0, 1);
    memcpy(rng_state, r.s, 32);
    struct fr_ckpt_blob blobs[] = {
        {.name = "__optim__.m", .dtype = FR_F32, .data = m, .n = p.n},
        {.name = "__optim__.v", .dtype = FR_F32, .data = v, .n = p.n},
        {.name = "__state__.rng", .dtype = FR_U8, .data = rng_state, .n = 32},
        {.name = "__state__.step", .dtype = FR_I64, .data = &step, .n = 1},
    };
    const char *mk[] = {"model"}, *mv[] = {"mlp"};
    struct fr_ckpt opt = {
        .meta_keys = mk, .meta_vals = mv, .nmeta = 1, .blobs = blobs, .nblobs = 4};
    const char *path = check_tmp("params.safetensors");
    CHECK(fr_params_save(&p, path, &opt) == 0, "save: %s", fr_last_error());

    CHECK(make_params(&q, 3, 1, 0) == 0, "params q");
    struct fr_ckpt_blob in[] = {
        {.name = "__optim__.m", .dtype = FR_F32, .data = m2, .n = q.n},
        {.name = "__optim__.v", .dtype = FR_F32, .data = v2, .n = q.n},
        {.name = "__state__.rng", .dtype = FR_U8, .data = rng2, .n = 32},
        {.name = "__state__.step", .dtype = FR_I64, .data = &step2, .n = 1},
        {.name = "__state__.absent", .dtype = FR_U8, .data = rng2, .n = 1, .optional = 1},
    };
    struct fr_ckpt lo = {.blobs = in, .nblobs = 5};
    CHECK(fr_params_load(&q, path, &lo) == 0, "load: %s", fr_last_error());
    for (int i = 0; i < p.count; i++)
        CHECK(memcmp(p.items[i].t->data, q.items[i].t->data, fr_nbytes(p.items[i].t)) == 0,
              "%s differs after load", p.items[i].name);
    CHECK(memcmp(m, m2, (size_t)p.n * 4) == 0 && memcmp(v, v2, (size_t)p.n * 4) == 0, "moments");
    CHECK(memcmp(rng_state, rng2, 32) == 0 && step2 == 1234, "rng / step");
    CHECK(in[0].found && !in[4].found && lo.n_ignored == 0, "found flags");
    struct fr_st_file *sf;
    CHECK(fr_st_open(path, &sf) == 0, "open");
    if (sf) {
        CHECK(fr_st_meta(sf, "model") && strcmp(fr_st_meta(sf, "model"), "mlp") == 0, "meta");
        const struct fr_st_entry *e = fr_st_find(sf, "fc.weight");
        CHECK(e && e->ndim == 2 && e->shape[0] == 4 && e->shape[1] == 3, "PyTorch (out, in) shape");
        fr_st_close(sf);
    }

    /* stored as BF16: values within bf16 rounding */
    struct fr_ckpt b16 = {.store = FR_BF16};
    CHECK(fr_params_save(&p, check_tmp("p16.safetensors"), &b16) == 0, "save bf16");
    CHECK(fr_params_load(&q, check_tmp("p16.safetensors"), NULL) == 0, "load bf16: %s",
          fr_last_error());
    double err = 0;
    for (int i = 0; i < p.count; i++)
        for (int64_t k = 0; k < fr_nelem(p.items[i].t); k++) {
            float a = ((float *)p.items[i].t->data)[k], b = ((float *)q.items[i].t->data)[k];
            double d = fabs(a - b) / (fabs(a) + 1e-30);
            if (d > err) err = d;
        }
    CHECK(err <= 1.0 / 256 && err > 0, "bf16 relative error %g", err);

    /* a required blob missing; wrong blob size */
    struct fr_ckpt_blob need = {.name = "__optim__.m", .dtype = FR_F32, .data = m2, .n = q.n};
    struct fr_ckpt needo = {.blobs = &need, .nblobs = 1};
    CHECK(fr_params_load(&q, check_tmp("p16.safetensors"), &needo) == FR_ENOTFOUND &&
              strstr(fr_last_error(), "__optim__.m"),
          "missing blob: %s", fr_last_error());
    need.n = q.n + 1;
    CHECK(fr_params_load(&q, path, &needo) == FR_EINVAL, "blob size mismatch accepted");
    struct fr_ckpt_blob wrongdt = {
        .name = "__state__.step", .dtype = FR_I32, .data = &step2, .n = 1};
    struct fr_ckpt wo = {.blobs = &wrongdt, .nblobs = 1, .allow_extra = 1};
    CHECK(fr_params_load(&q, path, &wo) == FR_EINVAL, "blob dtype mismatch accepted");
    fr_params_free(&q);

    /* shape mismatch: error names the tensor and both shapes; slab unchanged */
    CHECK(make_params(&q, 2, 1, 0) == 0, "params q2");
    fr_rng_fill_normal(&r, q.data, q.n, 0, 1);
    float *snap = malloc((size_t)q.n * 4);
    memcpy(snap, q.data, (size_t)q.n * 4);
    int rc = fr_params_load(&q, path, NULL);
    const char *msg = fr_last_error();
    CHECK(rc == FR_EINVAL && strstr(msg, "fc.weight") && strstr(msg, "(4, 3)") &&
              strstr(msg, "(4, 2)"),
          "shape mismatch: rc %d '%s'", rc, msg);
    CHECK(memcmp(snap, q.data, (size_t)q.n * 4) == 0, "failed load changed the slab");
    free(snap);
    fr_params_free(&q);

    /* missing tensor */
    CHECK(make_params(&q, 3, 1, 1) == 0, "params q3");
    rc = fr_params_load(&q, path, &(struct fr_ckpt){.allow_extra = 1});
    CHECK(rc == FR_ENOTFOUND && strstr(fr_last_error(), "head.weight"), "missing: %s",
          fr_last_error());
    fr_params_free(&q);

    /* extra tensors: an error by default, ignored and counted with allow_extra */
    CHECK(make_params(&q, 3, 0, 0) == 0, "params q4");
    rc = fr_params_load(&q, path, NULL);
    CHECK(rc == FR_EINVAL && strstr(fr_last_error(), "does not have"), "extra: %s",
          fr_last_error());
    struct fr_ckpt ax = {.allow_extra = 1};
    CHECK(fr_params_load(&q, path, &ax) == 0 && ax.n_ignored == 5, "allow_extra: rc %s, ignored %d",
          fr_last_error(), ax.n_ignored);
    CHECK(memcmp(q.data, p.data, 12 * 4) == 0, "weights after allow_extra load");
    fr_params_free(&q);
    fr_params_free(&p);
}

/* Runs "$FRUGAL_BIN info ARGS" capturing stdout/stderr; returns exit code. */
static int run_cli(const char *bin, const char *args, char *out, size_t nout, char *err,
                   size_t nerr) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' info %s >'%s' 2>'%s'", bin, args, check_tmp("cli.out"),
             check_tmp("cli.err"));
    int st = system(cmd);
    FILE *f = fopen(check_tmp("cli.out"), "rb");
    size_t k = f ? fread(out, 1, nout - 1, f) : 0;
    out[k] = 0;
    if (f) fclose(f);
    f = fopen(check_tmp("cli.err"), "rb");
    k = f ? fread(err, 1, nerr - 1, f) : 0;
    err[k] = 0;
    if (f) fclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* fr_st_count: parameters apart from "__" trainer state, bytes of both. */
static void test_count(void) {
    float w[6] = {0}, m[6] = {0};
    uint8_t mask[8] = {0};
    double b[2] = {0};
    struct fr_st_out t[4] = {
        {.name = "fc.weight", .dtype = FR_F32, .ndim = 2, .ne = {3, 2}, .data = w},
        {.name = "__optim__.m", .dtype = FR_F32, .ndim = 1, .ne = {6}, .data = m},
        {.name = "fc.bias", .dtype = FR_F64, .ndim = 1, .ne = {2}, .data = b},
        {.name = "__mask__", .dtype = FR_U8, .ndim = 1, .ne = {8}, .data = mask},
    };
    struct fr_st_file *f = NULL;
    struct fr_st_counts c;
    int rc = fr_st_write(check_tmp("count.st"), t, 4, NULL, NULL, 0);
    rc = rc ? rc : fr_st_open(check_tmp("count.st"), &f);
    if (f) fr_st_count(f, &c);
    CHECK(rc == 0 && c.params == 8 && c.param_tensors == 2 && c.state == 14 &&
              c.state_tensors == 2 && c.data_bytes == 6 * 4 + 2 * 8 + 6 * 4 + 8,
          "counts: rc %d, %lld params in %lld, %lld state in %lld, %zu bytes", rc,
          (long long)c.params, (long long)c.param_tensors, (long long)c.state,
          (long long)c.state_tensors, c.data_bytes);
    fr_st_close(f);
}

static void test_cli(void) {
    const char *bin = getenv("FRUGAL_BIN");
    if (!bin) {
        printf("test_safetensors: SKIPPED in part: the `frugal info` checks (FRUGAL_BIN not "
               "set)\n");
        return;
    }
    CHECK(access(bin, X_OK) == 0, "FRUGAL_BIN=%s is not an executable", bin);
    if (access(bin, X_OK) != 0) return;
    static char out[1 << 16], err[4096];
    char args[600];
    snprintf(args, sizeof args, "'%s'", check_tmp("params.safetensors"));
    int rc = run_cli(bin, args, out, sizeof out, err, sizeof err);
    CHECK(rc == 0, "info exit %d: %s", rc, err);
    CHECK(strstr(out, "fc.weight") && strstr(out, "(4, 3)") && strstr(out, "__optim__.m"),
          "info lists tensors: %s", out);
    CHECK(strstr(out, "model") && strstr(out, "mlp"), "info shows metadata: %s", out);
    CHECK(strstr(out, "20 parameters") != NULL, "info parameter count: %s", out);
    rc = run_cli(bin, "--help", out, sizeof out, err, sizeof err);
    CHECK(rc == 0 && strstr(out, "--limit") && strstr(out, "default"), "info --help: %d %s", rc,
          out);
    snprintf(args, sizeof args, "'%s'", check_tmp("ovl.st"));
    rc = run_cli(bin, args, out, sizeof out, err, sizeof err);
    char *nl = strchr(err, '\n');
    CHECK(rc == 1 && strncmp(err, "frugal info: ", 13) == 0 && nl && nl[1] == 0,
          "info on a bad file: rc %d, stderr '%s'", rc, err);
    /* usage errors exit 2 (the CLI's convention, cmd.h) */
    rc = run_cli(bin, "", out, sizeof out, err, sizeof err);
    CHECK(rc == 2 && strncmp(err, "frugal info: ", 13) == 0, "info without a file: %d '%s'", rc,
          err);
    rc = run_cli(bin, "--bogus x", out, sizeof out, err, sizeof err);
    CHECK(rc == 2 && strncmp(err, "frugal info: ", 13) == 0, "info bad flag: %d '%s'", rc, err);
    rc = run_cli(bin, "/nonexistent/file.safetensors", out, sizeof out, err, sizeof err);
    CHECK(rc == 1 && strstr(err, "cannot open"), "info missing file: %d '%s'", rc, err);
}

int main(void) {
    test_round_trip();
    test_many();
    test_malformed();
    test_atomic();
    test_params();
    test_count();
    test_cli();
    return check_report("test_safetensors");
}

/* test_hostile_input.c: the loaders against files that are malformed in
 * ways a parser's structure checks do not catch:
 *  1. a NUL ("\u0000") inside a safetensors name or metadata string;
 *  2. NaN and infinite weights (fr_first_nonfinite, fr_params_load, the
 *     transformer loaders: frugal safetensors, llama2.c, Hugging Face);
 *  3. config values out of range (NaN or negative epsilon, rope theta,
 *     dropout, flags) from the API, frugal metadata and config.json;
 *  4. a config that claims a bigger (or smaller) model than the file holds,
 *     refused before the model's memory is allocated;
 *  5. llama2.c headers with negative or extreme fields (INT_MIN), and
 *     tokenizer.bin records likewise (and NaN scores);
 *  6. paths that are not regular files (a FIFO must not hang a loader);
 * and what the fuzzers found (an F64 value beyond f32 before a NaN; a .tok
 * flag the encoder ignores).
 * Where the CLI meets them, `frugal` ($FRUGAL_BIN) is run too.
 */
#include "check.h"
#include "frugal/io.h"
#include "frugal/lm.h"
#include "frugal/tokenizer.h"
#include "frugal/transformer.h"

#include "core/file.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---------------- helpers ---------------- */

static void write_bytes(const char *path, const void *b, size_t n) {
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL, "cannot write %s", path);
    if (!f) return;
    CHECK(fwrite(b, 1, n, f) == n, "short write to %s", path);
    fclose(f);
}

static size_t raw_st(uint8_t *buf, const char *header, size_t ndata) {
    size_t h = strlen(header);
    for (int i = 0; i < 8; i++)
        buf[i] = (uint8_t)((uint64_t)h >> (8 * i));
    memcpy(buf + 8, header, h);
    memset(buf + 8 + h, 0, ndata);
    return 8 + h + ndata;
}

static int copy_file(const char *from, const char *to) {
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    char buf[8192];
    size_t n;
    int ok = a && b;
    while (ok && (n = fread(buf, 1, sizeof buf, a)) > 0)
        ok = fwrite(buf, 1, n, b) == n;
    if (a) fclose(a);
    if (b && fclose(b) != 0) ok = 0;
    return ok ? 0 : -1;
}

/* Overwrites element i of tensor name in the safetensors file at path with
 * the bits of v in the tensor's dtype (F32, F16 or BF16). */
static void poison(const char *path, const char *name, int64_t i, uint32_t f32bits) {
    struct fr_st_file *f;
    CHECK(fr_st_open(path, &f) == 0, "poison open: %s", fr_last_error());
    if (!f) return;
    const struct fr_st_entry *e = fr_st_find(f, name);
    CHECK(e != NULL && i < e->nelem, "poison: no tensor %s", name);
    if (!e || i >= e->nelem) {
        fr_st_close(f);
        return;
    }
    size_t es = fr_dtype_size(e->dtype);
    long off = (long)((const uint8_t *)e->data - f->bytes) + (long)((size_t)i * es);
    uint8_t b[4];
    if (e->dtype == FR_F32) {
        memcpy(b, &f32bits, 4);
    } else if (e->dtype == FR_BF16) {
        uint16_t h = (uint16_t)(f32bits >> 16);
        memcpy(b, &h, 2);
    } else { /* F16: NaN or inf keep their class */
        uint16_t h =
            (uint16_t)((f32bits >> 16 & 0x8000) | 0x7c00 | ((f32bits & 0x7fffff) ? 0x200 : 0));
        memcpy(b, &h, 2);
    }
    fr_st_close(f);
    FILE *fp = fopen(path, "r+b");
    CHECK(fp && fseek(fp, off, SEEK_SET) == 0 && fwrite(b, 1, es, fp) == es, "poison write");
    if (fp) fclose(fp);
}

/* Rewrites the safetensors file src as dst with metadata key set to val
 * (val NULL: removed; a new key is added). Tensors are copied as stored. */
static void restamp(const char *src, const char *dst, const char *key, const char *val) {
    struct fr_st_file *f;
    CHECK(fr_st_open(src, &f) == 0, "restamp open: %s", fr_last_error());
    if (!f) return;
    struct fr_st_out *t = calloc((size_t)f->n + 1, sizeof *t);
    const char *mk[64], *mv[64];
    int nm = 0, found = 0;
    for (int i = 0; i < f->n; i++) {
        const struct fr_st_entry *e = &f->entries[i];
        t[i].name = e->name;
        t[i].dtype = e->dtype;
        t[i].store = e->dtype;
        t[i].ndim = e->ndim;
        for (int d = 0; d < e->ndim; d++)
            t[i].ne[d] = e->shape[e->ndim - 1 - d];
        t[i].data = e->data;
    }
    for (int i = 0; i < f->nmeta && nm < 63; i++) {
        if (strcmp(f->meta_keys[i], key) == 0) {
            found = 1;
            if (!val) continue;
            mk[nm] = key, mv[nm++] = val;
        } else {
            mk[nm] = f->meta_keys[i], mv[nm++] = f->meta_vals[i];
        }
    }
    if (!found && val) mk[nm] = key, mv[nm++] = val;
    CHECK(fr_st_write(dst, t, f->n, mk, mv, nm) == 0, "restamp write: %s", fr_last_error());
    free(t);
    fr_st_close(f);
}

/* Runs fn in a child process under alarm(seconds); returns its exit code,
 * or -signal when it was killed (SIGALRM: it hung). The child's failed
 * CHECKs print there and count in its exit code. */
static int in_child(void (*fn)(void *), void *arg, int seconds) {
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        alarm((unsigned)seconds);
        g_check_fail = 0;
        fn(arg);
        _exit(g_check_fail > 100 ? 100 : g_check_fail);
    }
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) != pid) return -1000;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st);
}

/* Peak resident memory of this process, in MiB. */
static long peak_mib(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024;
}

/* Runs "$FRUGAL_BIN ARGS" (ARGS is shell text), stderr into err; exit code. */
static int run_cli(const char *args, char *err, size_t nerr) {
    const char *bin = getenv("FRUGAL_BIN");
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "timeout 60 '%s' %s >'%s' 2>'%s' </dev/null", bin, args,
             check_tmp("cli.out"), check_tmp("cli.err"));
    int st = system(cmd);
    FILE *f = fopen(check_tmp("cli.err"), "rb");
    size_t k = f ? fread(err, 1, nerr - 1, f) : 0;
    err[k] = 0;
    if (f) fclose(f);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int have_cli(void) {
    static int said;
    const char *bin = getenv("FRUGAL_BIN");
    if (!bin && !said++)
        printf("test_hostile_input: SKIPPED in part: the CLI checks (FRUGAL_BIN not set)\n");
    CHECK(!bin || access(bin, X_OK) == 0, "FRUGAL_BIN=%s is not an executable", bin);
    return bin && access(bin, X_OK) == 0;
}

/* A one-line CLI failure: exit 1, "frugal CMD: ...want..." and one newline. */
static void expect_cli_fail(const char *what, const char *args, const char *want) {
    char err[4096];
    int rc = run_cli(args, err, sizeof err);
    char *nl = strchr(err, '\n');
    CHECK(rc == 1 && strstr(err, want) && nl && nl[1] == 0,
          "CLI %s: exit %d, stderr '%s' (want exit 1, one line with '%s')", what, rc, err, want);
}

/* A tiny trainable GPT-2 (2 layers) saved as a frugal checkpoint. */
static void tiny_gpt2(struct fr_tf_config *c) {
    memset(c, 0, sizeof *c);
    c->arch = FR_TF_GPT2;
    c->dim = 16;
    c->n_layers = 2;
    c->n_heads = 2;
    c->vocab_size = 11;
    c->max_seq = 8;
}

static void save_tiny(const char *path, int dtype, const char *poison_name, int64_t at, float v) {
    struct fr_tf_config c;
    tiny_gpt2(&c);
    struct fr_tf_model m;
    CHECK(fr_tf_init(&m, &c, 7) == 0, "init: %s", fr_last_error());
    if (poison_name) {
        struct fr_param *p = fr_params_find(&m.params, poison_name);
        CHECK(p != NULL, "no parameter %s", poison_name);
        if (p) ((float *)p->t->data)[at] = v;
    }
    CHECK(fr_tf_save(&m, path, dtype) == 0, "save: %s", fr_last_error());
    fr_tf_free(&m);
}

/* ---------------- 1. NUL in names ---------------- */

static void test_nul(void) {
    static const char *const bad[] = {
        "{\"fc1.weight\\u0000junk\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
        "{\"__metadata__\":{\"arch\\u0000x\":\"llama\"},"
        "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
        "{\"__metadata__\":{\"arch\":\"llama\\u0000gpt2\"},"
        "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
        "{\"a\":{\"dtype\":\"F32\\u0000\",\"shape\":[1],\"data_offsets\":[0,4]}}",
        "{\"\\u0000\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
    };
    uint8_t buf[512];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t n = raw_st(buf, bad[i], 4);
        struct fr_st_file *f = (struct fr_st_file *)1;
        int rc = fr_st_open_mem(buf, n, &f);
        CHECK(rc == FR_EFORMAT && f == NULL && strstr(fr_last_error(), "NUL"),
              "NUL case %zu accepted or unclear: rc %d '%s'", i, rc, fr_last_error());
    }
    /* a raw NUL byte inside a name */
    size_t n = raw_st(buf, "{\"ab\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4);
    buf[10] = 0;
    struct fr_st_file *f;
    CHECK(fr_st_open_mem(buf, n, &f) == FR_EFORMAT, "raw NUL byte in a name accepted");
    /* an escaped backslash before u0000 is a name of 7 plain characters */
    n = raw_st(buf, "{\"a\\\\u0000\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4);
    int rc = fr_st_open_mem(buf, n, &f);
    CHECK(rc == 0 && f && f->n == 1 && strcmp(f->entries[0].name, "a\\u0000") == 0,
          "escaped backslash: rc %d '%s'", rc, fr_last_error());
    fr_st_close(f);
    /* from a file, and through the CLI */
    n = raw_st(buf, bad[0], 4);
    write_bytes(check_tmp("nul.safetensors"), buf, n);
    CHECK(fr_st_open(check_tmp("nul.safetensors"), &f) == FR_EFORMAT &&
              strstr(fr_last_error(), "nul.safetensors") && strstr(fr_last_error(), "NUL"),
          "NUL from a file: %s", fr_last_error());
    if (have_cli()) {
        char args[600];
        snprintf(args, sizeof args, "info '%s'", check_tmp("nul.safetensors"));
        expect_cli_fail("info on a NUL name", args, "NUL");
    }
}

/* ---------------- 2. non-finite weights ---------------- */

static void test_first_nonfinite(void) {
    enum { N = 10000 };
    static float f[N + 1];
    static double d[N];
    static uint16_t h[N], b[N];
    for (int i = 0; i < N; i++) {
        f[i] = (float)(i % 7) - 3.0f;
        d[i] = -1e300;
        h[i] = 0x7bff; /* the largest finite f16 */
        b[i] = 0xff7f; /* the most negative finite bf16 */
    }
    f[5] = 3.4028235e38f, f[6] = -1e-45f; /* max and a subnormal: finite */
    CHECK(fr_first_nonfinite(f, FR_F32, N) == -1, "finite f32 flagged");
    CHECK(fr_first_nonfinite(d, FR_F64, N) == -1, "finite f64 flagged");
    CHECK(fr_first_nonfinite(h, FR_F16, N) == -1, "finite f16 flagged");
    CHECK(fr_first_nonfinite(b, FR_BF16, N) == -1, "finite bf16 flagged");
    const int64_t at[] = {0, 4095, 4096, 9999};
    for (size_t k = 0; k < sizeof at / sizeof at[0]; k++) {
        int64_t i = at[k];
        float sf = f[i];
        double sd = d[i];
        f[i] = NAN, d[i] = -INFINITY, h[i] = 0xfc00, b[i] = 0x7fc1;
        CHECK(fr_first_nonfinite(f, FR_F32, N) == i, "f32 NaN at %lld", (long long)i);
        CHECK(fr_first_nonfinite(d, FR_F64, N) == i, "f64 -inf at %lld", (long long)i);
        CHECK(fr_first_nonfinite(h, FR_F16, N) == i, "f16 -inf at %lld", (long long)i);
        CHECK(fr_first_nonfinite(b, FR_BF16, N) == i, "bf16 NaN at %lld", (long long)i);
        f[i] = sf, d[i] = sd, h[i] = 0x7bff, b[i] = 0xff7f;
    }
    f[9000] = INFINITY;
    f[9001] = NAN;
    CHECK(fr_first_nonfinite(f, FR_F32, N) == 9000, "first of two");
    CHECK(fr_first_nonfinite(f, FR_F32, 9000) == -1, "n respected");
    /* unaligned data, as in a mapped safetensors file */
    static uint8_t raw[4 * 64 + 1];
    float inf = INFINITY;
    memset(raw, 0, sizeof raw);
    memcpy(raw + 1 + 4 * 37, &inf, 4);
    CHECK(fr_first_nonfinite(raw + 1, FR_F32, 64) == 37, "unaligned f32");
    int32_t ints[4] = {-1, 0x7fc00000, 0x7f800000, 3};
    CHECK(fr_first_nonfinite(ints, FR_I32, 4) == -1, "integers are always finite");
    CHECK(fr_first_nonfinite(NULL, FR_F32, 0) == -1, "empty");
}

static void test_params_finite(void) {
    struct fr_params p;
    fr_params_init(&p);
    int64_t ne[2] = {3, 4};
    fr_params_add(&p, "fc.weight", 2, ne, FR_PARAM_PRUNABLE);
    fr_params_add(&p, "fc.bias", 1, ne + 1, 0);
    CHECK(fr_params_alloc(&p) == 0, "alloc");
    for (int64_t i = 0; i < p.n; i++)
        p.data[i] = 0.25f * (float)(i % 5);
    const char *path = check_tmp("nan_params.safetensors");
    float m[16] = {0};
    struct fr_ckpt_blob blob = {"__optim__.m", FR_F32, m, 16, 0, 0};
    struct fr_ckpt o = {.blobs = &blob, .nblobs = 1};
    CHECK(fr_params_save(&p, path, &o) == 0, "save: %s", fr_last_error());
    CHECK(fr_params_load(&p, path, &o) == 0, "clean load: %s", fr_last_error());
    poison(path, "fc.weight", 7, 0x7fc00000u);
    float *snap = malloc((size_t)p.n * 4);
    memcpy(snap, p.data, (size_t)p.n * 4);
    int rc = fr_params_load(&p, path, &o);
    const char *e = fr_last_error();
    CHECK(rc == FR_EFORMAT && strstr(e, "fc.weight") && strstr(e, "element 7") &&
              strstr(e, "NaN") && strstr(e, "nan_params"),
          "NaN weight: rc %d '%s'", rc, e);
    CHECK(memcmp(snap, p.data, (size_t)p.n * 4) == 0, "failed load changed the slab");
    /* a value an f16 store rounds to infinity */
    p.data[p.items[1].offset + 2] = 1e6f;
    CHECK(fr_params_save(&p, path, &(struct fr_ckpt){.store = FR_F16}) == 0, "save f16");
    p.data[p.items[1].offset + 2] = 0;
    rc = fr_params_load(&p, path, NULL);
    CHECK(rc == FR_EFORMAT && strstr(fr_last_error(), "fc.bias") &&
              strstr(fr_last_error(), "element 2") && strstr(fr_last_error(), "+inf"),
          "f16 inf: rc %d '%s'", rc, fr_last_error());
    /* an optimizer blob with -inf */
    m[3] = -INFINITY;
    CHECK(fr_params_save(&p, path, &o) == 0, "save blob");
    rc = fr_params_load(&p, path, &o);
    CHECK(rc == FR_EFORMAT && strstr(fr_last_error(), "__optim__.m") &&
              strstr(fr_last_error(), "element 3"),
          "blob -inf: rc %d '%s'", rc, fr_last_error());
    free(snap);
    fr_params_free(&p);
}

static void test_tf_finite(void) {
    struct fr_tf_model m;
    const char *w = "transformer.h.1.mlp.c_fc.weight";
    char path[600];
    snprintf(path, sizeof path, "%s", check_tmp("nan_tf.safetensors"));
    save_tiny(path, FR_F32, w, 5, NAN);
    for (int trainable = 0; trainable < 2; trainable++) {
        int rc = fr_tf_load_ex(&m, path, trainable ? FR_TF_TRAINABLE : 0);
        const char *e = fr_last_error();
        CHECK(rc == FR_EFORMAT && strstr(e, w) && strstr(e, "element 5") && strstr(e, "NaN"),
              "frugal NaN (trainable %d): rc %d '%s'", trainable, rc, e);
    }
    save_tiny(path, FR_BF16, "transformer.wte.weight", 12, -INFINITY);
    CHECK(fr_tf_load(&m, path) == FR_EFORMAT && strstr(fr_last_error(), "wte") &&
              strstr(fr_last_error(), "-inf"),
          "frugal bf16 -inf: %s", fr_last_error());
    save_tiny(path, FR_F16, "transformer.h.0.ln_1.bias", 3, INFINITY);
    CHECK(fr_tf_load(&m, path) == FR_EFORMAT && strstr(fr_last_error(), "ln_1.bias"),
          "frugal f16 vector inf: %s", fr_last_error());
    save_tiny(path, FR_F16, NULL, 0, 0);
    CHECK(fr_tf_load(&m, path) == 0, "clean f16 load: %s", fr_last_error());
    fr_tf_free(&m);

    /* Hugging Face: GPT-2 (f32) and LLaMA (bf16) fixtures, poisoned copies */
    char dir[600], model[700], cfg[700];
    snprintf(dir, sizeof dir, "%s/hfnan", check_tmpdir());
    mkdir(dir, 0777);
    snprintf(model, sizeof model, "%s/model.safetensors", dir);
    snprintf(cfg, sizeof cfg, "%s/config.json", dir);
    CHECK(copy_file("tests/data/hf_gpt2/model.safetensors", model) == 0 &&
              copy_file("tests/data/hf_gpt2/config.json", cfg) == 0,
          "copy the GPT-2 fixture");
    CHECK(fr_tf_load(&m, model) == 0, "clean HF load: %s", fr_last_error());
    fr_tf_free(&m);
    struct fr_st_file *f;
    const char *qkv = "h.0.attn.c_attn.weight";
    if (fr_st_open(model, &f) == 0) {
        if (!fr_st_find(f, qkv)) qkv = "transformer.h.0.attn.c_attn.weight";
        fr_st_close(f);
    }
    poison(model, qkv, 7, 0x7fc00000u);
    int rc = fr_tf_load(&m, model);
    CHECK(rc == FR_EFORMAT && strstr(fr_last_error(), qkv) && strstr(fr_last_error(), "element 7"),
          "HF GPT-2 NaN: rc %d '%s'", rc, fr_last_error());
    CHECK(copy_file("tests/data/hf_llama_bf16/model.safetensors", model) == 0 &&
              copy_file("tests/data/hf_llama_bf16/config.json", cfg) == 0,
          "copy the LLaMA bf16 fixture");
    poison(model, "model.layers.1.mlp.down_proj.weight", 100, 0x7f800000u);
    rc = fr_tf_load(&m, model);
    CHECK(rc == FR_EFORMAT && strstr(fr_last_error(), "down_proj") &&
              strstr(fr_last_error(), "element 100") && strstr(fr_last_error(), "+inf"),
          "HF LLaMA bf16 inf: rc %d '%s'", rc, fr_last_error());

    if (have_cli()) {
        char args[800];
        save_tiny(path, FR_F32, w, 5, NAN);
        snprintf(args, sizeof args, "generate --model '%s' --ids --prompt 1 --steps 2", path);
        expect_cli_fail("generate with a NaN weight", args, "NaN");
    }
}

/* A llama2.c checkpoint: version 0 (legacy) or 1 (f32), dim 8, hidden 16,
 * 2 layers, 2 heads, vocab 10, context 4; weights 0.01 * (i % 13), and
 * group g (0 emb ... in the file's own order) element at set to bad. */
static size_t l2c_file(uint8_t **out, int version, const int32_t h[7], int shared, int g,
                       int64_t at, float bad) {
    int64_t D = 8, Hd = 16, L = 2, V = 10, S = 4, kvd = 8, hs = 4;
    int64_t v0[] = {V * D,     L * D,  L * D * D,         L * kvd * D, L * kvd * D,
                    L * D * D, L * D,  L * Hd * D,        L * D * Hd,  L * Hd * D,
                    D,         S * hs, shared ? 0 : V * D};
    int64_t v1[] = {L * D,       L * D,     D,          V * D,      L * D * D,  L * kvd * D,
                    L * kvd * D, L * D * D, L * Hd * D, L * D * Hd, L * Hd * D, shared ? 0 : V * D};
    const int64_t *sz = version == 0 ? v0 : v1;
    int ng = version == 0 ? 13 : 12;
    size_t off = version == 0 ? 28 : 256, nf = 0;
    for (int i = 0; i < ng; i++)
        nf += (size_t)sz[i];
    uint8_t *b = calloc(off + 4 * nf, 1);
    if (version == 0) {
        memcpy(b, h, 28);
    } else {
        uint32_t magic = 0x616b3432;
        int32_t ver = 1;
        memcpy(b, &magic, 4);
        memcpy(b + 4, &ver, 4);
        memcpy(b + 8, h, 28);
        b[8 + 28] = (uint8_t)shared;
    }
    float *w = (float *)(b + off);
    for (size_t i = 0; i < nf; i++)
        w[i] = 0.01f * (float)(i % 13);
    if (g >= 0) {
        size_t base = 0;
        for (int i = 0; i < g; i++)
            base += (size_t)sz[i];
        w[base + (size_t)at] = bad;
    }
    *out = b;
    return off + 4 * nf;
}

/* A version 2 (int8) llama2.c checkpoint with the same shapes, group size
 * 8, shared classifier; every scale 0.01 except the scale of group g of
 * tensor k (0 emb, 1 wq, 2 wk, ... 7 w3) of layer l, set to bad. */
static size_t l2c_q8_file(uint8_t **out, int k, int l, int g, float bad) {
    int64_t D = 8, Hd = 16, L = 2, V = 10, kvd = 8, gs = 8;
    int64_t per[8] = {V * D, D * D, kvd * D, kvd * D, D * D, Hd * D, D * Hd, Hd * D};
    size_t n = 256 + 4 * (size_t)(2 * L * D + D);
    for (int i = 0; i < 8; i++)
        n += (size_t)(i ? L : 1) * (size_t)(per[i] + per[i] / gs * 4);
    uint8_t *b = calloc(n, 1);
    uint32_t magic = 0x616b3432;
    int32_t ver = 2, h[7] = {8, 16, 2, 2, 2, 10, 4}, g32 = (int32_t)gs;
    memcpy(b, &magic, 4);
    memcpy(b + 4, &ver, 4);
    memcpy(b + 8, h, 28);
    b[8 + 28] = 1;
    memcpy(b + 8 + 29, &g32, 4);
    size_t p = 256;
    for (int64_t i = 0; i < 2 * L * D + D; i++, p += 4) {
        float one = 1;
        memcpy(b + p, &one, 4);
    }
    for (int i = 0; i < 8; i++)
        for (int part = 0; part < (i ? L : 1); part++) {
            for (int64_t q = 0; q < per[i]; q++)
                b[p + (size_t)q] = (uint8_t)(q % 7);
            p += (size_t)per[i];
            for (int64_t s = 0; s < per[i] / gs; s++, p += 4) {
                float sc = i == k && part == l && s == g ? bad : 0.01f;
                memcpy(b + p, &sc, 4);
            }
        }
    *out = b;
    return n;
}

static void test_l2c_finite(void) {
    int32_t h[7] = {8, 16, 2, 2, 2, 10, 4};
    struct fr_tf_model m;
    uint8_t *b;
    const char *path = check_tmp("nan.bin");
    size_t n = l2c_file(&b, 1, h, 1, -1, 0, 0);
    write_bytes(path, b, n);
    free(b);
    CHECK(fr_tf_load(&m, path) == 0, "clean llama2.c v1: %s", fr_last_error());
    fr_tf_free(&m);
    /* v1 group 4 is wq: layer 1 starts at D*D = 64 */
    n = l2c_file(&b, 1, h, 1, 4, 64 + 3, NAN);
    write_bytes(path, b, n);
    free(b);
    int rc = fr_tf_load(&m, path);
    CHECK(rc == FR_EFORMAT && strstr(fr_last_error(), "'wq' (layer 1) element 3 is NaN"),
          "llama2.c v1 NaN: rc %d '%s'", rc, fr_last_error());
    /* legacy: vocab -10 = an unshared classifier; wcls is the last group */
    int32_t hl[7] = {8, 16, 2, 2, 2, -10, 4};
    n = l2c_file(&b, 0, hl, 0, 12, 9, -INFINITY);
    write_bytes(path, b, n);
    free(b);
    rc = fr_tf_load(&m, path);
    CHECK(rc == FR_EFORMAT && strstr(fr_last_error(), "wcls") && strstr(fr_last_error(), "-inf"),
          "llama2.c v0 wcls -inf: rc %d '%s'", rc, fr_last_error());
    n = l2c_file(&b, 0, hl, 0, 10, 2, INFINITY); /* rms_final_weight */
    write_bytes(path, b, n);
    free(b);
    rc = fr_tf_load(&m, path);
    CHECK(rc == FR_EFORMAT && strstr(fr_last_error(), "rms_final_weight"),
          "llama2.c v0 rms_final inf: rc %d '%s'", rc, fr_last_error());
    /* int8 (version 2): the dequantised weights are checked too */
    n = l2c_q8_file(&b, 0, 0, 0, 0.01f);
    write_bytes(path, b, n);
    free(b);
    CHECK(fr_tf_load(&m, path) == 0, "clean llama2.c v2: %s", fr_last_error());
    fr_tf_free(&m);
    n = l2c_q8_file(&b, 2, 1, 3, INFINITY); /* wk, layer 1, group 3: elements 24..31 */
    write_bytes(path, b, n);
    free(b);
    rc = fr_tf_load(&m, path);
    CHECK(rc == FR_EFORMAT && strstr(fr_last_error(), "'wk' (layer 1) element 24 is +inf"),
          "llama2.c v2 inf scale: rc %d '%s'", rc, fr_last_error());
}

/* ---------------- 3. config values ---------------- */

static void test_config_check(void) {
    struct fr_tf_config base = {
        .arch = FR_TF_LLAMA, .dim = 16, .n_layers = 1, .n_heads = 2, .vocab_size = 5, .max_seq = 4};
    struct fr_tf_config c = base;
    CHECK(fr_tf_config_check(&c) == 0 && c.norm_eps == 1e-5f && c.rope_theta == 10000.0f &&
              c.n_kv_heads == 2 && c.hidden_dim == 64,
          "defaults: %s", fr_last_error());
    struct {
        const char *what;
        struct fr_tf_config c;
    } bad[] = {
        {"norm_eps", base},   {"norm_eps", base},   {"norm_eps", base},   {"norm_eps", base},
        {"rope_theta", base}, {"rope_theta", base}, {"rope_theta", base}, {"rope_theta", base},
        {"dropout", base},    {"dropout", base},    {"dropout", base},    {"tied", base},
        {"rope_half", base},  {"no_bias", base},    {"gelu_exact", base}, {"positive", base},
        {"positive", base},   {"absurd", base},     {"absurd", base},     {"arch", base},
    };
    bad[0].c.norm_eps = NAN, bad[1].c.norm_eps = -1e-5f, bad[2].c.norm_eps = INFINITY;
    bad[3].c.norm_eps = 2;
    bad[4].c.rope_theta = NAN, bad[5].c.rope_theta = -10000, bad[6].c.rope_theta = INFINITY;
    bad[7].c.rope_theta = 0.5f;
    bad[8].c.dropout = NAN, bad[9].c.dropout = 1, bad[10].c.dropout = -0.1f;
    bad[11].c.tied = 2, bad[12].c.rope_half = -1;
    bad[13].c.arch = FR_TF_GPT2, bad[13].c.no_bias = 5;
    bad[14].c.arch = FR_TF_GPT2, bad[14].c.gelu_exact = 3;
    bad[15].c.hidden_dim = -1, bad[16].c.n_kv_heads = -2;
    bad[17].c.dim = INT_MAX, bad[18].c.hidden_dim = INT_MAX;
    bad[19].c.arch = 7;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = fr_tf_config_check(&bad[i].c);
        CHECK(rc == FR_EINVAL && (strstr(fr_last_error(), bad[i].what) ||
                                  (!strcmp(bad[i].what, "positive") &&
                                   strstr(fr_last_error(), "must be positive"))),
              "bad config %zu (%s) accepted or unclear: rc %d '%s'", i, bad[i].what, rc,
              fr_last_error());
    }
}

static void test_meta_values(void) {
    char good[600], bad[600];
    snprintf(good, sizeof good, "%s", check_tmp("meta_good.safetensors"));
    snprintf(bad, sizeof bad, "%s", check_tmp("meta_bad.safetensors"));
    save_tiny(good, FR_F32, NULL, 0, 0);
    static const struct {
        const char *key, *val, *want;
    } cases[] = {
        {"norm_eps", "nan", "norm_eps"},      {"norm_eps", "-1e-5", "norm_eps"},
        {"norm_eps", "1e-50", "norm_eps"},    {"norm_eps", "abc", "norm_eps"},
        {"norm_eps", "inf", "norm_eps"},      {"norm_eps", "0", "norm_eps"},
        {"norm_eps", "1e-5x", "norm_eps"},    {"rope_theta", "-5", "rope_theta"},
        {"rope_theta", "1e39", "rope_theta"}, {"dim", "4294967312", "dim"},
        {"dim", "-16", "positive"},           {"tied", "2", "tied"},
        {"no_bias", "yes", "no_bias"},        {"gelu_exact", "7", "gelu_exact"},
        {"n_layers", "", "n_layers"},         {"max_seq", "9999999", "absurd"},
        {"arch", "gpt3\nx", "gpt3?x"},        {"vocab_size", NULL, "vocab_size"},
    };
    struct fr_tf_model m;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        restamp(good, bad, cases[i].key, cases[i].val);
        for (int tr = 0; tr < 2; tr++) {
            int rc = fr_tf_load_ex(&m, bad, tr ? FR_TF_TRAINABLE : 0);
            CHECK(rc == FR_EFORMAT && strstr(fr_last_error(), cases[i].want) &&
                      !strchr(fr_last_error(), '\n'),
                  "metadata %s='%s' (trainable %d): rc %d '%s'", cases[i].key,
                  cases[i].val ? cases[i].val : "(absent)", tr, rc, fr_last_error());
        }
    }
    restamp(good, bad, "norm_eps", "1e-6");
    CHECK(fr_tf_load(&m, bad) == 0 && m.cfg.norm_eps == 1e-6f, "norm_eps 1e-6: %s",
          fr_last_error());
    fr_tf_free(&m);
}

static void test_hf_config_values(void) {
    char dir[600], model[700], cfg[700];
    snprintf(dir, sizeof dir, "%s/hfcfg", check_tmpdir());
    mkdir(dir, 0777);
    snprintf(model, sizeof model, "%s/model.safetensors", dir);
    snprintf(cfg, sizeof cfg, "%s/config.json", dir);
    CHECK(copy_file("tests/data/hf_llama/model.safetensors", model) == 0, "copy LLaMA fixture");
    const char *pre = "{\"model_type\": \"llama\", \"hidden_size\": 32, \"intermediate_size\": "
                      "48, \"num_hidden_layers\": 2, \"num_attention_heads\": 4, "
                      "\"num_key_value_heads\": 2, \"vocab_size\": 67, "
                      "\"max_position_embeddings\": 32";
    static const struct {
        const char *extra, *want;
    } cases[] = {
        {"\"rms_norm_eps\": -1e-6", "norm_eps"},
        {"\"rms_norm_eps\": \"1e-6\"", "rms_norm_eps"},
        {"\"rms_norm_eps\": 1e400", "rms_norm_eps"},
        {"\"rms_norm_eps\": 1e-300", "rms_norm_eps"},
        {"\"rms_norm_eps\": 0", "epsilon"},
        {"\"rope_theta\": -1", "rope_theta"},
        {"\"rope_theta\": [1]", "rope_theta"},
        {"\"tie_word_embeddings\": \"no\"", "tie_word"},
        {"\"rope_theta\": 1e13", "rope_theta"},
        {"\"rms_norm_eps\": 5", "norm_eps"},
    };
    struct fr_tf_model m;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char json[1024];
        snprintf(json, sizeof json, "%s, %s}", pre, cases[i].extra);
        write_bytes(cfg, json, strlen(json));
        int rc = fr_tf_load(&m, model);
        CHECK(rc == FR_EFORMAT && strstr(fr_last_error(), cases[i].want) &&
                  strstr(fr_last_error(), "config.json"),
              "config.json %s: rc %d '%s'", cases[i].extra, rc, fr_last_error());
    }
    char json[1024];
    snprintf(json, sizeof json, "%s, \"rms_norm_eps\": 1e-6, \"tie_word_embeddings\": false}", pre);
    write_bytes(cfg, json, strlen(json));
    CHECK(fr_tf_load(&m, model) == 0, "valid config.json: %s", fr_last_error());
    fr_tf_free(&m);
}

/* ---------------- 4. config against the tensor table ---------------- */

struct big_claim {
    const char *path;
    int flags;
    const char *want;
};

/* In a child: the load fails as it should, and the process never grew
 * anywhere near the claimed model (about 1.4 GB of f32 weights). */
static void big_claim_child(void *arg) {
    const struct big_claim *b = arg;
    struct fr_tf_model m;
    int rc = fr_tf_load_ex(&m, b->path, b->flags);
    CHECK(rc != 0 && strstr(fr_last_error(), b->want), "claimed model: rc %d '%s'", rc,
          fr_last_error());
    CHECK(peak_mib() < 400, "peak memory %ld MiB: the claimed model was allocated", peak_mib());
}

static void test_config_vs_table(void) {
    /* a frugal file with metadata claiming a 24-layer, 1024-wide GPT-2 */
    char good[600], bad[600];
    snprintf(good, sizeof good, "%s", check_tmp("table_good.safetensors"));
    snprintf(bad, sizeof bad, "%s", check_tmp("table_bad.safetensors"));
    save_tiny(good, FR_F32, NULL, 0, 0);
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s", check_tmp("table_tmp.safetensors"));
    restamp(good, tmp, "dim", "1024");
    restamp(tmp, bad, "n_layers", "24");
    restamp(bad, tmp, "hidden_dim", "4096");
    restamp(tmp, bad, "vocab_size", "50257");
    restamp(bad, tmp, "max_seq", "1024");
    restamp(tmp, bad, "n_heads", "16");
    restamp(bad, tmp, "n_kv_heads", "16");
    struct big_claim b = {tmp, 0, "transformer.wte.weight"};
    CHECK(in_child(big_claim_child, &b, 60) == 0, "frugal metadata claiming a big model");
    b.flags = FR_TF_TRAINABLE;
    CHECK(in_child(big_claim_child, &b, 60) == 0, "the same, trainable");

    /* metadata claiming fewer layers than the file stores */
    struct fr_tf_model m;
    restamp(good, bad, "n_layers", "1");
    for (int tr = 0; tr < 2; tr++) {
        int rc = fr_tf_load_ex(&m, bad, tr ? FR_TF_TRAINABLE : 0);
        CHECK(rc == FR_EFORMAT && strstr(fr_last_error(), "transformer.h.1.") &&
                  strstr(fr_last_error(), "not part of the model"),
              "fewer layers in the metadata (trainable %d): rc %d '%s'", tr, rc, fr_last_error());
    }
    /* a shape that disagrees (vocab) is found before allocation too */
    restamp(good, bad, "vocab_size", "12");
    CHECK(fr_tf_load(&m, bad) != 0 && strstr(fr_last_error(), "wte"), "vocab mismatch: %s",
          fr_last_error());

    /* Hugging Face: config.json claiming GPT-2 medium over the tiny fixture */
    char dir[600], model[700], cfg[700];
    snprintf(dir, sizeof dir, "%s/hfbig", check_tmpdir());
    mkdir(dir, 0777);
    snprintf(model, sizeof model, "%s/model.safetensors", dir);
    snprintf(cfg, sizeof cfg, "%s/config.json", dir);
    CHECK(copy_file("tests/data/hf_gpt2/model.safetensors", model) == 0, "copy GPT-2 fixture");
    const char *medium = "{\"model_type\": \"gpt2\", \"n_embd\": 1024, \"n_layer\": 24, "
                         "\"n_head\": 16, \"vocab_size\": 50257, \"n_positions\": 1024}";
    write_bytes(cfg, medium, strlen(medium));
    struct big_claim h = {model, 0, "wte.weight"};
    CHECK(in_child(big_claim_child, &h, 60) == 0, "config.json claiming a big model");
    const char *one = "{\"model_type\": \"gpt2\", \"n_embd\": 32, \"n_layer\": 1, \"n_head\": 4, "
                      "\"vocab_size\": 61, \"n_positions\": 16}";
    write_bytes(cfg, one, strlen(one));
    int rc = fr_tf_load(&m, model);
    CHECK(rc == FR_EFORMAT && strstr(fr_last_error(), "layer 1") &&
              strstr(fr_last_error(), "1 layers"),
          "config.json with fewer layers than the file: rc %d '%s'", rc, fr_last_error());
}

/* ---------------- 5. llama2.c headers ---------------- */

static void test_l2c_headers(void) {
    struct fr_tf_model m;
    const char *path = check_tmp("hdr.bin");
    uint8_t *b;
    static const struct {
        int32_t h[7];
        const char *want;
    } cases[] = {
        {{8, 16, 2, 2, 2, INT_MIN, 4}, "vocab_size"}, {{-8, 16, 2, 2, 2, 10, 4}, "dim"},
        {{8, 0, 2, 2, 2, 10, 4}, "hidden_dim"},       {{8, 16, INT_MIN, 2, 2, 10, 4}, "n_layers"},
        {{8, 16, 2, -2, 2, 10, 4}, "n_heads"},        {{8, 16, 2, 2, -1, 10, 4}, "n_kv_heads"},
        {{8, 16, 2, 2, 2, 10, INT_MIN}, "seq_len"},   {{INT_MAX, 16, 2, 2, 2, 10, 4}, "absurd"},
        {{8, 16, 2, 2, 2, 10, INT_MAX}, "absurd"},    {{8, 16, 2, 2, 3, 10, 4}, "kv heads"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (int version = 0; version < 2; version++) {
            int32_t ok[7] = {8, 16, 2, 2, 2, 10, 4};
            size_t n = l2c_file(&b, version, ok, 1, -1, 0, 0);
            memcpy(b + (version ? 8 : 0), cases[i].h, 28);
            write_bytes(path, b, n);
            free(b);
            int rc = fr_tf_load(&m, path);
            CHECK(rc == FR_EFORMAT && strstr(fr_last_error(), cases[i].want),
                  "llama2.c v%d header case %zu: rc %d '%s'", version, i, rc, fr_last_error());
        }
    }
    /* v1: the shared-classifier byte is a flag */
    int32_t ok[7] = {8, 16, 2, 2, 2, 10, 4};
    size_t n = l2c_file(&b, 1, ok, 1, -1, 0, 0);
    b[8 + 28] = 7;
    write_bytes(path, b, n);
    CHECK(fr_tf_load(&m, path) == FR_EFORMAT && strstr(fr_last_error(), "shared_classifier"),
          "shared flag 7: %s", fr_last_error());
    /* v2: a tiny file claiming a big int8 model is refused before the
     * dequantised copy is allocated */
    int32_t ver = 2, gs = 64, big[7] = {4096, 11008, 32, 32, 32, 32000, 2048};
    memcpy(b + 4, &ver, 4);
    memcpy(b + 8, big, 28);
    b[8 + 28] = 1;
    memcpy(b + 8 + 29, &gs, 4);
    write_bytes(path, b, n);
    long before = peak_mib();
    CHECK(fr_tf_load(&m, path) == FR_EFORMAT && strstr(fr_last_error(), "header implies"),
          "v2 big claim: %s", fr_last_error());
    CHECK(peak_mib() - before < 100, "v2 big claim allocated %ld MiB", peak_mib() - before);
    gs = 0;
    memcpy(b + 8, ok, 28);
    memcpy(b + 8 + 29, &gs, 4);
    write_bytes(path, b, n);
    CHECK(fr_tf_load(&m, path) == FR_EFORMAT && strstr(fr_last_error(), "group size"),
          "v2 group size 0: %s", fr_last_error());
    free(b);
    /* too short to hold any header */
    write_bytes(path, "ak42", 4);
    CHECK(fr_tf_load(&m, path) == FR_EFORMAT && strstr(fr_last_error(), "truncated"),
          "4-byte file: %s", fr_last_error());

    /* tokenizer.bin: max_token_length, then (score, len, bytes) records */
    struct fr_tokenizer *t;
    uint8_t tb[64];
    int32_t v;
    float s;
    v = INT_MIN;
    memcpy(tb, &v, 4);
    CHECK(fr_tokenizer_load_memory(tb, 4, &t) == FR_EFORMAT && !t &&
              strstr(fr_last_error(), "max_token_length"),
          "tokenizer.bin max length INT_MIN: %s", fr_last_error());
    v = 8;
    memcpy(tb, &v, 4);
    s = 0;
    memcpy(tb + 4, &s, 4);
    v = INT_MIN;
    memcpy(tb + 8, &v, 4);
    CHECK(fr_tokenizer_load_memory(tb, 12, &t) == FR_EFORMAT && strstr(fr_last_error(), "length"),
          "tokenizer.bin token length INT_MIN: %s", fr_last_error());
    const float scores[] = {NAN, -NAN};
    for (int k = 0; k < 2; k++) {
        size_t p = 4;
        for (int i = 0; i < 4; i++) { /* <unk> <s> </s> a */
            float sc = i == 3 ? scores[k] : 0.0f;
            int32_t l = 1;
            memcpy(tb + p, &sc, 4);
            memcpy(tb + p + 4, &l, 4);
            tb[p + 8] = (uint8_t)('a' + i);
            p += 9;
        }
        int rc = fr_tokenizer_load_memory(tb, p, &t);
        CHECK(rc == FR_EFORMAT && strstr(fr_last_error(), "score"),
              "tokenizer.bin score %g: rc %d '%s'", (double)scores[k], rc, fr_last_error());
        if (!rc) fr_tokenizer_free(t);
    }
}

/* ---------------- fuzz findings ---------------- */

/* fuzz_safetensors: in an F64 tensor, a NaN after a value too large for
 * f32 was reported first, though the f32 copy turns the earlier one into
 * infinity. */
static void test_f64_first_bad(void) {
    double d[4] = {0.5, -1e300, NAN, 1};
    struct fr_st_out t = {.name = "d", .dtype = FR_F64, .ndim = 1, .ne = {4}, .data = d};
    const char *path = check_tmp("f64.safetensors");
    CHECK(fr_st_write(path, &t, 1, NULL, NULL, 0) == 0, "write: %s", fr_last_error());
    struct fr_st_file *f;
    CHECK(fr_st_open(path, &f) == 0, "open: %s", fr_last_error());
    if (!f) return;
    int rc = fr_st_check_finite(fr_st_find(f, "d"));
    CHECK(rc == FR_EFORMAT && strstr(fr_last_error(), "element 1 is -inf"),
          "F64 beyond f32: rc %d '%s'", rc, fr_last_error());
    fr_st_close(f);
}

/* fuzz_tokenizer: a frugal .tok file with the dummy-prefix flag on a
 * byte-level BPE vocabulary loaded, and decoding then dropped the leading
 * space that encoding had kept (" the" -> "the"). */
static void test_tok_dummy_prefix(void) {
    struct fr_tokenizer *t;
    CHECK(fr_tokenizer_load("tests/data/tok_gpt2_tiny.json", &t) == 0, "tokenizer: %s",
          fr_last_error());
    if (!t) return;
    char path[600];
    snprintf(path, sizeof path, "%s", check_tmp("bpe.tok"));
    CHECK(fr_tokenizer_save(t, path) == 0, "save: %s", fr_last_error());
    fr_tokenizer_free(t);
    size_t n;
    uint8_t *b = (uint8_t *)fr_read_file(path, 1 << 20, &n);
    CHECK(b && n > 40, "read back");
    if (!b) return;
    b[12] |= 2; /* flags: dummy prefix */
    int rc = fr_tokenizer_load_memory(b, n, &t);
    CHECK(rc == FR_EFORMAT && strstr(fr_last_error(), "dummy-prefix"),
          "BPE with a dummy prefix: rc %d '%s'", rc, fr_last_error());
    if (!rc) fr_tokenizer_free(t);
    free(b);
}

/* ---------------- 6. not regular files ---------------- */

static void loaders_child(void *arg) {
    const char *path = arg;
    struct fr_st_file *f;
    struct fr_idx x;
    struct fr_tokenizer *t;
    struct fr_tf_model m;
    size_t n;
    int rc = fr_st_open(path, &f);
    CHECK(rc == FR_EIO && strstr(fr_last_error(), "is not a regular file"), "st %s: %s", path,
          fr_last_error());
    rc = fr_idx_load(path, &x);
    CHECK(rc == FR_EIO && strstr(fr_last_error(), "is not a regular file"), "idx %s: %s", path,
          fr_last_error());
    rc = fr_tokenizer_load(path, &t);
    CHECK(rc == FR_EIO && strstr(fr_last_error(), "is not a regular file"), "tok %s: %s", path,
          fr_last_error());
    rc = fr_tf_load(&m, path);
    CHECK(rc == FR_EIO && strstr(fr_last_error(), "is not a regular file"), "tf %s: %s", path,
          fr_last_error());
    CHECK(fr_read_file(path, 1 << 20, &n) == NULL && strstr(fr_last_error(), "is not a regular"),
          "read_file %s: %s", path, fr_last_error());
    struct fr_params p;
    fr_params_init(&p);
    int64_t ne = 4;
    fr_params_add(&p, "w", 1, &ne, 0);
    fr_params_alloc(&p);
    rc = fr_params_load(&p, path, NULL);
    CHECK(rc == FR_EIO && strstr(fr_last_error(), "is not a regular file"), "params %s: %s", path,
          fr_last_error());
    fr_params_free(&p);
    struct fr_lm_config c;
    fr_lm_config_defaults(&c);
    c.data = path;
    c.iters = 1;
    struct fr_lm_result r;
    rc = fr_lm_train(&c, &r);
    CHECK(rc != 0 && strstr(fr_last_error(), "is not a regular file"), "LM text %s: %s", path,
          fr_last_error());
}

static void hf_config_child(void *arg) {
    struct fr_tf_model m;
    int rc = fr_tf_load(&m, arg);
    CHECK(rc != 0 && strstr(fr_last_error(), "config.json is not a regular file"),
          "HF config.json FIFO: rc %d '%s'", rc, fr_last_error());
}

static void test_not_regular(void) {
    char fifo[600], dir[600];
    snprintf(fifo, sizeof fifo, "%s", check_tmp("fifo"));
    snprintf(dir, sizeof dir, "%s", check_tmp("adir"));
    CHECK(mkfifo(fifo, 0600) == 0, "mkfifo: %s", strerror(errno));
    mkdir(dir, 0777);
    const char *paths[] = {fifo, dir, "/dev/null"};
    const char *kinds[] = {"a FIFO", "a directory", "a device"};
    for (int i = 0; i < 3; i++) {
        int rc = in_child(loaders_child, (void *)paths[i], 30);
        CHECK(rc == 0, "loaders on %s: %s", kinds[i],
              rc == -SIGALRM ? "a loader hung" : "failed (see above)");
    }
    CHECK(fr_read_file(fifo, 10, NULL) == NULL && strstr(fr_last_error(), "(a FIFO)"),
          "the kind is named: %s", fr_last_error());
    CHECK(fr_read_file(check_tmp("missing"), 10, NULL) == NULL &&
              strstr(fr_last_error(), "cannot open"),
          "a missing file: %s", fr_last_error());
    /* config.json beside a Hugging Face model is a FIFO */
    char hdir[600], model[700], cfg[700];
    snprintf(hdir, sizeof hdir, "%s/hffifo", check_tmpdir());
    mkdir(hdir, 0777);
    snprintf(model, sizeof model, "%s/model.safetensors", hdir);
    snprintf(cfg, sizeof cfg, "%s/config.json", hdir);
    CHECK(copy_file("tests/data/hf_llama/model.safetensors", model) == 0 && mkfifo(cfg, 0600) == 0,
          "HF FIFO setup");
    CHECK(in_child(hf_config_child, model, 30) == 0, "HF loader with a FIFO config.json");
    if (have_cli()) {
        char args[700];
        snprintf(args, sizeof args, "info '%s'", fifo);
        expect_cli_fail("info on a FIFO", args, "is not a regular file");
        snprintf(args, sizeof args, "generate --model '%s' --ids --steps 1", dir);
        expect_cli_fail("generate on a directory", args, "is not a regular file");
    }
}

int main(void) {
    fr_threads_set(2);
    test_nul();
    test_first_nonfinite();
    test_params_finite();
    test_tf_finite();
    test_l2c_finite();
    test_config_check();
    test_meta_values();
    test_hf_config_values();
    test_config_vs_table();
    test_l2c_headers();
    test_f64_first_bad();
    test_tok_dummy_prefix();
    test_not_regular();
    return check_report("test_hostile_input");
}

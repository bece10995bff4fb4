/* slow_fuzz.c: builds the libFuzzer targets (tests/fuzz: safetensors, IDX,
 * the tokenizer loaders) with clang in a scratch directory, writes a seed
 * corpus with frugal's own writers plus the shipped fixtures and hand-made
 * edge cases (and the zero-shot NAS table with its cell strings), and runs each fuzzer for a
 * bounded time (FRUGAL_FUZZ_SECONDS, default 60). Any crash, sanitizer report or invariant failure
 * fails the test and keeps the scratch directory (the test's own check_tmpdir()) with the
 * reproducer. Without clang it is skipped (77).
 *
 * Runs from the source root (ctest's working directory for tests).
 */
#include "check.h"
#include "frugal/io.h"
#include "frugal/tokenizer.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <zlib.h>

static const char *g_dir; /* check_tmpdir() */

/* Runs a shell command (printf-style); returns its exit code. */
static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...) {
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void put(const char *sub, const char *name, const void *b, size_t n, int gz) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s/%s", g_dir, sub, name);
    if (gz) {
        gzFile g = gzopen(path, "wb");
        if (g) {
            if (n) gzwrite(g, b, (unsigned)n);
            gzclose(g);
        }
        return;
    }
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fwrite(b, 1, n, f);
    fclose(f);
}

static void raw_st(const char *name, const char *header, size_t ndata) {
    uint8_t buf[1024];
    size_t h = strlen(header);
    for (int i = 0; i < 8; i++)
        buf[i] = (uint8_t)((uint64_t)h >> (8 * i));
    memcpy(buf + 8, header, h);
    for (size_t i = 0; i < ndata; i++)
        buf[8 + h + i] = (uint8_t)(i * 13);
    put("st", name, buf, 8 + h + ndata, 0);
}

/* Tokenizer seeds: the shipped fixtures (tokenizer.json, tokenizer.bin),
 * small hand-made files of each format, and each loadable seed re-saved in
 * frugal's own format. */
static void tok_seeds(const char *src) {
    static const char *const fixtures[] = {"tok_gpt2_tiny.json", "tok_llama_tiny.json",
                                           "tok_llama2c_tiny.bin", "tok_gpt2_subset.json"};
    char path[1024];
    for (size_t i = 0; i < sizeof fixtures / sizeof fixtures[0]; i++) {
        snprintf(path, sizeof path, "%s/tests/data/%s", src, fixtures[i]);
        FILE *f = fopen(path, "rb");
        if (!f) continue;
        static char buf[1 << 16];
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        put("tok", fixtures[i], buf, n, 0);
        struct fr_tokenizer *t;
        if (fr_tokenizer_load(path, &t) == 0) {
            snprintf(path, sizeof path, "%s/tok/%s.tok", g_dir, fixtures[i]);
            if (fr_tokenizer_save(t, path)) fprintf(stderr, "seed: %s\n", fr_last_error());
            fr_tokenizer_free(t);
        }
    }
    const char *bpe =
        "{\"added_tokens\":[{\"id\":3,\"content\":\"<|endoftext|>\",\"special\":true}],"
        "\"pre_tokenizer\":{\"type\":\"ByteLevel\"},\"decoder\":{\"type\":\"ByteLevel\"},"
        "\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1,\"ab\":2,"
        "\"<|endoftext|>\":3},\"merges\":[\"a b\"]}}";
    put("tok", "bpe.json", bpe, strlen(bpe), 0);
    const char *spm =
        "{\"normalizer\":{\"type\":\"Prepend\",\"prepend\":\"\u2581\"},"
        "\"decoder\":{\"type\":\"Sequence\",\"decoders\":[{\"type\":\"ByteFallback\"}]},"
        "\"model\":{\"type\":\"BPE\",\"byte_fallback\":true,\"vocab\":{\"<unk>\":0,"
        "\"<0x41>\":1,\"\u2581\":2,\"x\":3,\"\u2581x\":4},\"merges\":[[\"\u2581\",\"x\"]]}}";
    put("tok", "spm.json", spm, strlen(spm), 0);
    /* llama2.c: max_token_length, then (score, length, bytes) per token */
    uint8_t l2c[128];
    size_t n = 0;
    int32_t maxlen = 4;
    memcpy(l2c, &maxlen, 4);
    n = 4;
    const char *pieces[] = {"<unk>", "<s>", "</s>", "<0x41>", " ", "a", " a", "ab"};
    for (int i = 0; i < 8; i++) {
        float sc = (float)-i;
        int32_t len = (int32_t)strlen(pieces[i]);
        if (len > maxlen) len = maxlen;
        memcpy(l2c + n, &sc, 4);
        memcpy(l2c + n + 4, &len, 4);
        memcpy(l2c + n + 8, pieces[i], (size_t)len);
        n += 8 + (size_t)len;
    }
    put("tok", "l2c.bin", l2c, n, 0);
    const char *dict =
        "\"model\"\n\"type\"\n\"BPE\"\n\"vocab\"\n\"merges\"\n\"added_tokens\"\n"
        "\"special\"\n\"content\"\n\"id\"\n\"pre_tokenizer\"\n\"pretokenizers\"\n"
        "\"decoder\"\n\"decoders\"\n\"normalizer\"\n\"normalizers\"\n\"ByteLevel\"\n"
        "\"Metaspace\"\n\"ByteFallback\"\n\"Prepend\"\n\"Sequence\"\n\"byte_fallback\"\n"
        "\"ignore_merges\"\n\"prepend_scheme\"\n\"add_prefix_space\"\n\"never\"\n"
        "\"\\xE2\\x96\\x81\"\n\"<0x41>\"\n\"<unk>\"\n\"<s>\"\n\"true\"\n\"false\"\n\"null\"\n";
    put(".", "tok.dict", dict, strlen(dict), 0);
}

static void seeds(void) {
    char path[512];
    float f[12] = {1, -2, 3.5f, 0, 1e-8f, 65504, -1e30f, 0.1f, 7, 8, 9, 10};
    int32_t i[3] = {1, -1, 7};
    uint8_t u[2] = {0, 1};
    struct fr_st_out t[] = {
        {.name = "fc.weight", .dtype = FR_F32, .ndim = 2, .ne = {3, 2}, .data = f},
        {.name = "fc.bias", .dtype = FR_F32, .store = FR_F16, .ndim = 1, .ne = {2}, .data = f},
        {.name = "emb", .dtype = FR_F32, .store = FR_BF16, .ndim = 3, .ne = {2, 2, 1}, .data = f},
        {.name = "idx", .dtype = FR_I32, .ndim = 1, .ne = {3}, .data = i},
        {.name = "__state__.rng", .dtype = FR_U8, .ndim = 1, .ne = {2}, .data = u},
        {.name = "s", .dtype = FR_F32, .ndim = 0, .data = f},
    };
    const char *k[] = {"format", "arch"}, *v[] = {"pt", "{\"model\":\"mlp\"}"};
    for (int n = 1; n <= 6; n++) {
        snprintf(path, sizeof path, "%s/st/w%d", g_dir, n);
        if (fr_st_write(path, t, n, k, v, n % 3)) fprintf(stderr, "seed: %s\n", fr_last_error());
    }
    raw_st("bool", "{\"m\":{\"dtype\":\"BOOL\",\"shape\":[1,1,1,1,1,2],\"data_offsets\":[0,2]}}",
           2);
    raw_st("f64",
           "{\"d\":{\"dtype\":\"F64\",\"shape\":[1],\"data_offsets\":[0,8]},"
           "\"e\":{\"dtype\":\"I64\",\"shape\":[0,5],\"data_offsets\":[8,8]}}",
           8);
    raw_st("nullmeta", "{\"__metadata__\":null}", 0);
    raw_st("overlap",
           "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
           "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
           12);

    uint8_t b[256];
    const struct {
        int type, ndim, size;
        uint32_t dims[3];
    } idx[] = {{0x08, 3, 1, {2, 3, 3}}, {0x08, 1, 1, {10}},   {0x09, 2, 1, {2, 2}},
               {0x0B, 1, 2, {3}},       {0x0C, 1, 4, {2}},    {0x0D, 2, 4, {1, 3}},
               {0x0E, 1, 8, {2}},       {0x08, 2, 1, {0, 28}}};
    for (size_t c = 0; c < sizeof idx / sizeof idx[0]; c++) {
        size_t n = 1, h = 4 + 4 * (size_t)idx[c].ndim;
        b[0] = 0, b[1] = 0, b[2] = (uint8_t)idx[c].type, b[3] = (uint8_t)idx[c].ndim;
        for (int d = 0; d < idx[c].ndim; d++) {
            for (int q = 0; q < 4; q++)
                b[4 + 4 * d + q] = (uint8_t)(idx[c].dims[d] >> (24 - 8 * q));
            n *= idx[c].dims[d];
        }
        for (size_t j = 0; j < n * (size_t)idx[c].size; j++)
            b[h + j] = (uint8_t)(j * 29 + 3);
        char name[32];
        snprintf(name, sizeof name, "t%zu", c);
        put("idx", name, b, h + n * (size_t)idx[c].size, 0);
        snprintf(name, sizeof name, "t%zu.gz", c);
        put("idx", name, b, h + n * (size_t)idx[c].size, 1);
    }
    const char *dict =
        "\"dtype\"\n\"shape\"\n\"data_offsets\"\n\"__metadata__\"\n\"F32\"\n\"F16\"\n"
        "\"BF16\"\n\"F64\"\n\"I32\"\n\"I64\"\n\"U8\"\n\"I8\"\n\"BOOL\"\n\"null\"\n"
        "\"1e300\"\n\"-1\"\n\"4294967296\"\n\"9007199254740993\"\n";
    put(".", "st.dict", dict, strlen(dict), 0);
}

static int fuzz(const char *target, const char *corpus, const char *extra, int seconds,
                int max_len) {
    char args[1024], log[512];
    snprintf(log, sizeof log, "%s/%s.log", g_dir, target);
    snprintf(args, sizeof args,
             "-max_total_time=%d -timeout=10 -rss_limit_mb=2048 -max_len=%d -print_final_stats=1 "
             "-artifact_prefix=%s/%s- %s %s/%s",
             seconds, max_len, g_dir, target, extra, g_dir, corpus);
    char bin[512];
    snprintf(bin, sizeof bin, "%s/build/tests/fuzz/%s", g_dir, target);
    int rc = sh("TMPDIR='%s' %s %s > %s 2>&1", g_dir, bin, args, log);
    printf("%s: exit %d; ", target, rc);
    fflush(stdout);
    sh("grep -E '^(Done|stat::number_of_executed_units)' %s | tr '\\n' ' '; echo", log);
    if (rc != 0) sh("tail -40 %s >&2", log);
    return rc;
}

/* The table and cell-string seeds: a valid table (header, two rows), one
 * with a partial last line, a bad row, cell strings, and a dictionary of
 * the ops and separators. */
static void nas_seeds(void) {
    static const char *const S[] = {
        "# frugal nas-bench: x\n# recipe: r\ncell,arch,seed,val_acc,test_acc,params,flops,"
        "train_seconds\n0,|none~0|+|none~0|none~1|+|none~0|none~1|none~2|,1,10.00,11.50,18594,"
        "2923390,1.5\n15624,|avg_pool_3x3~0|+|avg_pool_3x3~0|avg_pool_3x3~1|+|avg_pool_3x3~0|"
        "avg_pool_3x3~1|avg_pool_3x3~2|,2,50,50,1,1,0\n",
        "# recipe: r\n0,|none~0|+|none~0|none~1|+|none~0|none~1|none~2|,1,1,1,1,1,1\n77,|no",
        "cell,arch\n5,|none~0|+|none~0|none~1|+|none~0|none~1|none~2|,1,nan,1,1,1,1\n",
        "|nor_conv_3x3~0|+|none~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_1x1~1|nor_conv_3x3~2|",
        "|none~0|+|none~0|none~1|+|none~0|none~1|",
    };
    for (size_t i = 0; i < sizeof S / sizeof S[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "seed%zu", i);
        put("nas", name, S[i], strlen(S[i]), 0);
    }
    char path[512];
    snprintf(path, sizeof path, "%s/nas.dict", g_dir);
    FILE *f = fopen(path, "w");
    if (!f) return;
    fputs("\"none\"\n\"skip_connect\"\n\"nor_conv_1x1\"\n\"nor_conv_3x3\"\n\"avg_pool_3x3\"\n"
          "\"~0|\"\n\"~1|\"\n\"~2|\"\n\"|+|\"\n\"# recipe: \"\n\",\"\n",
          f);
    fclose(f);
}

int main(void) {
    const char *src = getenv("FRUGAL_SRC") ? getenv("FRUGAL_SRC") : ".";
    const char *secs_env = getenv("FRUGAL_FUZZ_SECONDS");
    int seconds = secs_env ? atoi(secs_env) : 60;
    if (seconds < 1) seconds = 60;
    if (sh("command -v clang >/dev/null 2>&1") != 0)
        return check_skip("slow_fuzz", "clang not found (apt-get install clang)");
    g_dir = check_tmpdir();
    int rc = sh("cmake -S '%s' -B '%s/build' -DCMAKE_C_COMPILER=clang -DFRUGAL_FUZZ=ON "
                "-DCMAKE_BUILD_TYPE=Release > '%s/build.log' 2>&1",
                src, g_dir, g_dir);
    if (rc == 0)
        rc = sh("cmake --build '%s/build' -j2 --target fuzz_safetensors fuzz_idx fuzz_tokenizer "
                "fuzz_nasbench >> '%s/build.log' 2>&1",
                g_dir, g_dir);
    CHECK(rc == 0, "building the fuzz targets failed; see %s/build.log", g_dir);
    if (rc) {
        sh("tail -30 '%s/build.log' >&2", g_dir);
        setenv("CHECK_KEEP_TMP", "1", 1); /* keep the log for a look */
        return check_report("slow_fuzz");
    }
    sh("mkdir -p '%s/st' '%s/idx' '%s/tok' '%s/nas'", g_dir, g_dir, g_dir, g_dir);
    seeds();
    nas_seeds();
    tok_seeds(src);
    char dict[600], tdict[600];
    snprintf(dict, sizeof dict, "-dict=%s/st.dict", g_dir);
    snprintf(tdict, sizeof tdict, "-dict=%s/tok.dict", g_dir);
    int a = fuzz("fuzz_safetensors", "st", dict, seconds, 4096);
    int b = fuzz("fuzz_idx", "idx", "", seconds, 4096);
    int c = fuzz("fuzz_tokenizer", "tok", tdict, seconds, 32768);
    snprintf(dict, sizeof dict, "-dict=%s/nas.dict", g_dir);
    int d = fuzz("fuzz_nasbench", "nas", dict, seconds, 4096);
    CHECK(d == 0, "fuzz_nasbench found a failure; reproducer and log in %s", g_dir);
    CHECK(a == 0, "fuzz_safetensors found a failure; reproducer and log in %s", g_dir);
    CHECK(b == 0, "fuzz_idx found a failure; reproducer and log in %s", g_dir);
    CHECK(c == 0, "fuzz_tokenizer found a failure; reproducer and log in %s", g_dir);
    if (a != 0 || b != 0 || c != 0 || d != 0)
        setenv("CHECK_KEEP_TMP", "1", 1); /* keep the reproducer */
    return check_report("slow_fuzz");
}

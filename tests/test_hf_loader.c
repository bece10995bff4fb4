/* test_hf_loader.c: Hugging Face-layout GPT-2 and LLaMA checkpoints (written
 * by scripts/ref/hf_fixtures.py with PyTorch) load and give the logits of the
 * independent PyTorch forward to 1e-4 relative; f32 and bf16 files; broken
 * directories give clear errors. */
#include "check.h"
#include "frugal/io.h"
#include "frugal/transformer.h"

#include <stdlib.h>
#include <string.h>

static void check_model(const char *dir) {
    char path[512], ref[512];
    snprintf(path, sizeof path, "tests/data/%s/model.safetensors", dir);
    snprintf(ref, sizeof ref, "tests/data/%s/ref.txt", dir);
    struct fr_tf_model m;
    int rc = fr_tf_load(&m, path);
    CHECK(rc == 0, "%s: load: %s", dir, fr_last_error());
    if (rc) return;
    FILE *f = fopen(ref, "r");
    CHECK(f != NULL, "%s: reference file", dir);
    if (!f) return;
    static char line[1 << 16];
    int32_t tok[64];
    int nt = 0;
    char *p, *end;
    if (fgets(line, sizeof line, f))
        for (p = line + 7; nt < 64; p = end) {
            long v = strtol(p, &end, 10);
            if (end == p) break;
            tok[nt++] = (int32_t)v;
        }
    int V = m.cfg.vocab_size;
    float *lg = malloc(sizeof(float) * nt * V);
    struct fr_tf_state s;
    fr_tf_state_init(&s, &m, 1, nt, nt, NULL, 0);
    CHECK(fr_tf_prefill(&s, 0, tok, nt, lg, 1) == 0, "%s: prefill", dir);
    double worst = 0;
    for (int t = 0; t < nt && fgets(line, sizeof line, f); t++) {
        p = line;
        for (int i = 0; i < V; i++, p = end) {
            double r = strtod(p, &end);
            worst = fmax(worst, fabs(lg[t * V + i] - r) / (1e-4 * fmax(1.0, fabs(r))));
        }
    }
    CHECK(worst <= 1.0, "%s: logits vs PyTorch reference (worst ratio to 1e-4 rel: %.3g)", dir, worst);
    fclose(f);
    free(lg);
    fr_tf_state_free(&s);
    fr_tf_free(&m);
}

static void copy_file(const char *from, const char *to) {
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    char buf[8192];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, a)) > 0) fwrite(buf, 1, n, b);
    fclose(a);
    fclose(b);
}

int main(void) {
    fr_threads_set(2);
    check_model("hf_gpt2");
    check_model("hf_llama");
    check_model("hf_llama_bf16");

    struct fr_tf_model m;
    system("rm -rf /tmp/frugal_hf && mkdir -p /tmp/frugal_hf");
    copy_file("tests/data/hf_llama/model.safetensors", "/tmp/frugal_hf/model.safetensors");
    CHECK(fr_tf_load(&m, "/tmp/frugal_hf/model.safetensors") != 0 &&
              strstr(fr_last_error(), "config.json"),
          "missing config.json: %s", fr_last_error());
    FILE *f = fopen("/tmp/frugal_hf/config.json", "w");
    fputs("{\"model_type\": \"bert\"}", f);
    fclose(f);
    CHECK(fr_tf_load(&m, "/tmp/frugal_hf/model.safetensors") != 0 && strstr(fr_last_error(), "bert"),
          "unsupported model type: %s", fr_last_error());
    f = fopen("/tmp/frugal_hf/config.json", "w");
    fputs("{\"model_type\": \"llama\", \"hidden_size\": 32, \"intermediate_size\": 48, "
          "\"num_hidden_layers\": 3, \"num_attention_heads\": 4, \"num_key_value_heads\": 2, "
          "\"vocab_size\": 67}", f);
    fclose(f);
    CHECK(fr_tf_load(&m, "/tmp/frugal_hf/model.safetensors") != 0 && strstr(fr_last_error(), "missing"),
          "config with more layers than the file: %s", fr_last_error());
    f = fopen("/tmp/frugal_hf/config.json", "w");
    fputs("{\"model_type\": \"llama\", \"hidden_size\": 32, \"intermediate_size\": 48, "
          "\"num_hidden_layers\": 2, \"num_attention_heads\": 4, \"num_key_value_heads\": 2, "
          "\"vocab_size\": 70}", f);
    fclose(f);
    CHECK(fr_tf_load(&m, "/tmp/frugal_hf/model.safetensors") != 0,
          "vocabulary mismatch: %s", fr_last_error());
    f = fopen("/tmp/frugal_hf/config.json", "w");
    fputs("{\"model_type\": \"llama\", \"hidden_size\": ", f);
    fclose(f);
    CHECK(fr_tf_load(&m, "/tmp/frugal_hf/model.safetensors") != 0, "truncated config.json: %s",
          fr_last_error());
    system("rm -rf /tmp/frugal_hf");
    return check_report("test_hf_loader");
}

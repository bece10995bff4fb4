/* transformer_hf.c: Hugging Face checkpoints (model.safetensors with
 * config.json beside it) for the GPT-2 and LLaMA families.
 *
 * The weights are copied into frugal's f32 slab: GPT-2's Conv1D matrices
 * are stored [in, out] and are transposed to frugal's [out, in]; LLaMA's
 * projections are already [out, in] and use rotate-half RoPE (rope_half=1),
 * so no permutation is needed. GPT-2 tensors may carry a "transformer."
 * prefix or not. Tensors frugal does not use (attention-mask buffers) are
 * ignored; a missing or misshapen tensor is an error naming it.
 *
 * config.json is hostile input too: every value frugal reads must have the
 * right JSON type (a string where a number belongs is an error, not the
 * default) and pass fr_tf_config_check's ranges; then the config is checked
 * against the tensor table (names, shapes, dtypes, finite values, no layer
 * beyond n_layers) before the slab is allocated, so a small file whose
 * config claims a large model is refused without allocating that model.
 */
#include "frugal/io.h"
#include "frugal/status.h"
#include "frugal/transformer.h"

#include <cjson/cJSON.h>

#include "../core/file.h"
#include "transformer_internal.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An integer field: absent or null gives def (def < 0: required). */
static int json_int(const cJSON *j, const char *path, const char *k, int def, int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);
    if (!v || cJSON_IsNull(v)) {
        if (def < 0) return fr_error(FR_EFORMAT, "%s lacks '%s'", path, k);
        *out = def;
        return 0;
    }
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble <= 1e9) ||
        v->valuedouble != floor(v->valuedouble))
        return fr_error(FR_EFORMAT, "%s: '%s' is not an integer in [0, 1e9]", path, k);
    *out = (int)v->valuedouble;
    return 0;
}

/* A float field: absent or null gives def; a number must fit a float
 * (neither overflow to infinity nor underflow to 0 from a nonzero value). */
static int json_float(const cJSON *j, const char *path, const char *k, double def, float *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);
    if (!v || cJSON_IsNull(v)) {
        *out = (float)def;
        return 0;
    }
    float y = cJSON_IsNumber(v) ? (float)v->valuedouble : NAN;
    if (!isfinite(y) || (v->valuedouble != 0 && y == 0))
        return fr_error(FR_EFORMAT, "%s: '%s' is not a finite number", path, k);
    *out = y;
    return 0;
}

/* A boolean field: absent or null gives def. */
static int json_bool(const cJSON *j, const char *path, const char *k, int def, int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);
    if (!v || cJSON_IsNull(v)) {
        *out = def;
        return 0;
    }
    if (!cJSON_IsBool(v)) return fr_error(FR_EFORMAT, "%s: '%s' is not true or false", path, k);
    *out = cJSON_IsTrue(v);
    return 0;
}

static int read_config(const char *model_path, struct fr_tf_config *c) {
    char dir[4096], path[4200];
    snprintf(dir, sizeof dir, "%s", model_path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = 0;
    else
        snprintf(dir, sizeof dir, ".");
    snprintf(path, sizeof path, "%s/config.json", dir);
    char *buf = fr_read_file(path, 1 << 24, NULL);
    if (!buf) {
        if (strncmp(fr_last_error(), "cannot open", 11) == 0)
            return fr_error(FR_EIO,
                            "%s is not a transformer checkpoint: it has no frugal.model metadata "
                            "and no config.json beside it (%s)",
                            model_path, path);
        return strstr(fr_last_error(), "larger than") ? FR_EFORMAT : FR_EIO;
    }
    cJSON *j = cJSON_Parse(buf);
    free(buf);
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return fr_error(FR_EFORMAT, "%s: not a JSON object", path);
    }
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(j, "model_type");
    const char *type = cJSON_IsString(mt) ? mt->valuestring : "";
    memset(c, 0, sizeof *c);
    int rc = 0;
    if (strcmp(type, "gpt2") == 0) {
        c->arch = FR_TF_GPT2;
        c->tied = 1;
        if ((rc = json_int(j, path, "n_embd", -1, &c->dim)) ||
            (rc = json_int(j, path, "n_layer", -1, &c->n_layers)) ||
            (rc = json_int(j, path, "n_head", -1, &c->n_heads)) ||
            (rc = json_int(j, path, "vocab_size", -1, &c->vocab_size)) ||
            (rc = json_int(j, path, "n_positions", 1024, &c->max_seq)) ||
            (rc = json_int(j, path, "n_inner", 0, &c->hidden_dim)) ||
            (rc = json_float(j, path, "layer_norm_epsilon", 1e-5, &c->norm_eps)))
            goto done;
        c->n_kv_heads = c->n_heads;
    } else if (strcmp(type, "llama") == 0 || strcmp(type, "mistral") == 0) {
        c->arch = FR_TF_LLAMA;
        c->rope_half = 1;
        if ((rc = json_int(j, path, "hidden_size", -1, &c->dim)) ||
            (rc = json_int(j, path, "intermediate_size", -1, &c->hidden_dim)) ||
            (rc = json_int(j, path, "num_hidden_layers", -1, &c->n_layers)) ||
            (rc = json_int(j, path, "num_attention_heads", -1, &c->n_heads)) ||
            (rc = json_int(j, path, "num_key_value_heads", 0, &c->n_kv_heads)) ||
            (rc = json_int(j, path, "vocab_size", -1, &c->vocab_size)) ||
            (rc = json_int(j, path, "max_position_embeddings", 2048, &c->max_seq)) ||
            (rc = json_float(j, path, "rms_norm_eps", 1e-6, &c->norm_eps)) ||
            (rc = json_float(j, path, "rope_theta", 10000.0, &c->rope_theta)) ||
            (rc = json_bool(j, path, "tie_word_embeddings", 0, &c->tied)))
            goto done;
    } else {
        char b[48];
        rc = fr_error(FR_EFORMAT, "%s: model_type '%s' not supported (gpt2, llama)", path,
                      fr_tf_printable(type, b));
        goto done;
    }
    /* zero would silently mean fr_tf_config_check's default */
    if (c->norm_eps == 0 || (c->arch == FR_TF_LLAMA && c->rope_theta == 0))
        rc = fr_error(FR_EFORMAT, "%s: a norm epsilon or rope_theta of 0", path);
    else if (fr_tf_config_check(c))
        rc = fr_error(FR_EFORMAT, "%s: %s", path, fr_last_error());
done:
    cJSON_Delete(j);
    return rc;
}

/* The file's name for a frugal parameter, and whether it is transposed. */
static const struct fr_st_entry *hf_entry(const struct fr_st_file *f, const struct fr_tf_config *c,
                                          const char *name, int *transposed, char *hfname,
                                          size_t cap) {
    *transposed = 0;
    if (c->arch == FR_TF_LLAMA) {
        snprintf(hfname, cap, "%s", name);
        return fr_st_find(f, hfname);
    }
    const char *base = strncmp(name, "transformer.", 12) == 0 ? name + 12 : name;
    *transposed = strstr(base, "c_attn.weight") || strstr(base, "c_proj.weight") ||
                  strstr(base, "c_fc.weight");
    snprintf(hfname, cap, "%s", base);
    const struct fr_st_entry *e = fr_st_find(f, hfname);
    if (!e) {
        snprintf(hfname, cap, "transformer.%s", base);
        e = fr_st_find(f, hfname);
    }
    return e;
}

/* The layer a tensor name belongs to ("h.N." or "transformer.h.N." for
 * GPT-2, "model.layers.N." for LLaMA), or -1. */
static long layer_of(const char *name, int arch) {
    const char *p = NULL;
    if (arch == FR_TF_LLAMA) {
        if (strncmp(name, "model.layers.", 13) == 0) p = name + 13;
    } else {
        if (strncmp(name, "transformer.", 12) == 0) name += 12;
        if (strncmp(name, "h.", 2) == 0) p = name + 2;
    }
    if (!p || *p < '0' || *p > '9') return -1;
    long l = 0;
    for (; *p >= '0' && *p <= '9'; p++)
        if ((l = l * 10 + (*p - '0')) > 1 << 20) return 1 << 20;
    return *p == '.' ? l : -1;
}

/* config.json against the tensor table, before the slab is allocated:
 * every tensor present, float, of the right shape (Conv1D transposed) and
 * finite; no tensor of a layer beyond n_layers. */
static int check_hf_table(const struct fr_tf_model *m, const struct fr_st_file *f,
                          const char *path) {
    const struct fr_tf_config *c = &m->cfg;
    for (int i = 0; i < m->params.count; i++) {
        const struct fr_param *p = &m->params.items[i];
        int tr;
        char hf[256];
        const struct fr_st_entry *e = hf_entry(f, c, p->name, &tr, hf, sizeof hf);
        if (!e)
            return fr_error(FR_ENOTFOUND,
                            "%s: tensor '%s' missing (config.json describes a %d-layer, %d-wide "
                            "%s)",
                            path, hf, c->n_layers, c->dim,
                            c->arch == FR_TF_LLAMA ? "llama" : "gpt2");
        if (e->dtype != FR_F32 && e->dtype != FR_F16 && e->dtype != FR_BF16 && e->dtype != FR_F64)
            return fr_error(FR_EFORMAT, "%s: tensor '%s' is %s, not a float type", path, hf,
                            fr_dtype_name(e->dtype));
        int64_t ne[2] = {p->t->ne[1], p->t->ne[0]}; /* Conv1D [in, out] */
        int bad = tr ? fr_st_check_shape(e, 2, ne) : fr_st_check_shape(e, p->t->ndim, p->t->ne);
        if (bad || fr_st_check_finite(e)) {
            char msg[512];
            snprintf(msg, sizeof msg, "%s", fr_last_error());
            return fr_error(FR_EFORMAT, "%s: %s", path, msg);
        }
    }
    for (int i = 0; i < f->n; i++) {
        long l = layer_of(f->entries[i].name, c->arch);
        if (l >= c->n_layers) {
            char b[48];
            return fr_error(FR_EFORMAT,
                            "%s: tensor '%s' belongs to layer %ld but config.json has %d layers",
                            path, fr_tf_printable(f->entries[i].name, b), l, c->n_layers);
        }
    }
    return 0;
}

int fr_tf_load_hf(struct fr_tf_model *m, const char *path, const struct fr_st_file *f) {
    struct fr_tf_config c;
    int rc = read_config(path, &c);
    if (rc) return rc;
    memset(m, 0, sizeof *m);
    m->cfg = c;
    if ((rc = fr_tf_declare(m)) || (rc = check_hf_table(m, f, path)) ||
        (rc = fr_params_alloc(&m->params)))
        return rc;
    fr_tf_bind_views(m);
    float *tmp = NULL;
    size_t tmpn = 0;
    for (int i = 0; i < m->params.count; i++) {
        struct fr_param *p = &m->params.items[i];
        int tr;
        char hf[256];
        const struct fr_st_entry *e = hf_entry(f, &m->cfg, p->name, &tr, hf, sizeof hf);
        if (!tr) {
            fr_st_entry_to_f32(e, p->t->data);
            continue;
        }
        /* Conv1D [in, out] -> [out, in] */
        int64_t n = fr_nelem(p->t);
        if ((size_t)n > tmpn) {
            free(tmp);
            tmp = malloc((size_t)n * sizeof(float));
            tmpn = (size_t)n;
            if (!tmp) {
                rc = fr_error(FR_ENOMEM, "out of memory");
                break;
            }
        }
        fr_st_entry_to_f32(e, tmp);
        int64_t in = p->t->ne[0], out = p->t->ne[1];
        float *d = p->t->data;
        for (int64_t r = 0; r < out; r++)
            for (int64_t k = 0; k < in; k++)
                d[r * in + k] = tmp[k * out + r];
    }
    free(tmp);
    return rc;
}

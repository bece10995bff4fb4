/* transformer_hf.c: Hugging Face checkpoints (model.safetensors with
 * config.json beside it) for the GPT-2 and LLaMA families.
 *
 * The weights are copied into frugal's f32 slab: GPT-2's Conv1D matrices
 * are stored [in, out] and are transposed to frugal's [out, in]; LLaMA's
 * projections are already [out, in] and use rotate-half RoPE (rope_half=1),
 * so no permutation is needed. GPT-2 tensors may carry a "transformer."
 * prefix or not. Tensors frugal does not use (attention-mask buffers) are
 * ignored; a missing or misshapen tensor is an error naming it.
 */
#include "frugal/io.h"
#include "frugal/status.h"
#include "frugal/transformer.h"

#include <cjson/cJSON.h>

#include "../core/file.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int fr_tf_load_hf(struct fr_tf_model *m, const char *path, struct fr_st_file *f);

static int json_int(const cJSON *j, const char *k, int def, int *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);
    if (!v || cJSON_IsNull(v)) {
        if (def < 0) return fr_error(FR_EFORMAT, "config.json lacks '%s'", k);
        *out = def;
        return 0;
    }
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < 0 ||
        v->valuedouble > 1e9)
        return fr_error(FR_EFORMAT, "config.json: '%s' is not a valid integer", k);
    *out = (int)v->valuedouble;
    return 0;
}

static double json_num(const cJSON *j, const char *k, double def) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);
    return cJSON_IsNumber(v) ? v->valuedouble : def;
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
        if (strstr(fr_last_error(), "cannot open"))
            return fr_error(FR_EIO, "Hugging Face checkpoint needs %s (not found)", path);
        return FR_EFORMAT;
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
        if ((rc = json_int(j, "n_embd", -1, &c->dim)) || (rc = json_int(j, "n_layer", -1, &c->n_layers)) ||
            (rc = json_int(j, "n_head", -1, &c->n_heads)) ||
            (rc = json_int(j, "vocab_size", -1, &c->vocab_size)) ||
            (rc = json_int(j, "n_positions", 1024, &c->max_seq)) ||
            (rc = json_int(j, "n_inner", 0, &c->hidden_dim)))
            goto done;
        c->n_kv_heads = c->n_heads;
        c->norm_eps = (float)json_num(j, "layer_norm_epsilon", 1e-5);
    } else if (strcmp(type, "llama") == 0 || strcmp(type, "mistral") == 0) {
        c->arch = FR_TF_LLAMA;
        c->rope_half = 1;
        if ((rc = json_int(j, "hidden_size", -1, &c->dim)) ||
            (rc = json_int(j, "intermediate_size", -1, &c->hidden_dim)) ||
            (rc = json_int(j, "num_hidden_layers", -1, &c->n_layers)) ||
            (rc = json_int(j, "num_attention_heads", -1, &c->n_heads)) ||
            (rc = json_int(j, "num_key_value_heads", 0, &c->n_kv_heads)) ||
            (rc = json_int(j, "vocab_size", -1, &c->vocab_size)) ||
            (rc = json_int(j, "max_position_embeddings", 2048, &c->max_seq)))
            goto done;
        c->norm_eps = (float)json_num(j, "rms_norm_eps", 1e-6);
        c->rope_theta = (float)json_num(j, "rope_theta", 10000.0);
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "tie_word_embeddings");
        c->tied = cJSON_IsTrue(t);
    } else {
        rc = fr_error(FR_EFORMAT, "%s: model_type '%s' not supported (gpt2, llama)", path, type);
    }
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

int fr_tf_load_hf(struct fr_tf_model *m, const char *path, struct fr_st_file *f) {
    struct fr_tf_config c;
    int rc = read_config(path, &c);
    if (rc) return rc;
    if ((rc = fr_tf_init(m, &c, 0))) return fr_error(FR_EFORMAT, "%s: %s", path, fr_last_error());
    float *tmp = NULL;
    size_t tmpn = 0;
    for (int i = 0; i < m->params.count && !rc; i++) {
        struct fr_param *p = &m->params.items[i];
        int tr;
        char hf[256];
        const struct fr_st_entry *e = hf_entry(f, &m->cfg, p->name, &tr, hf, sizeof hf);
        if (!e) {
            rc = fr_error(FR_ENOTFOUND, "%s: tensor '%s' missing", path, hf);
            break;
        }
        int64_t n = fr_nelem(p->t);
        if (e->nelem != n) {
            rc = fr_error(FR_EINVAL, "%s: tensor '%s' has %lld elements, expected %lld", path, hf,
                          (long long)e->nelem, (long long)n);
            break;
        }
        if (!tr) {
            if ((rc = fr_st_check_shape(e, p->t->ndim, p->t->ne))) break;
            fr_st_entry_to_f32(e, p->t->data);
            continue;
        }
        /* Conv1D [in, out] -> [out, in] */
        int64_t ne[2] = {p->t->ne[1], p->t->ne[0]};
        if ((rc = fr_st_check_shape(e, 2, ne))) break;
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
            for (int64_t k = 0; k < in; k++) d[r * in + k] = tmp[k * out + r];
    }
    free(tmp);
    for (int64_t i = 0; !rc && i < m->params.n; i++)
        if (!isfinite(m->params.data[i]))
            rc = fr_error(FR_EFORMAT, "%s: weights contain NaN or Inf", path);
    if (rc) fr_tf_free(m);
    return rc;
}

/* safetensors_count.c: what a safetensors file holds, counted (io.h,
 * fr_st_count): the parameters apart from a trainer's state, whose arrays
 * are named "__..." (struct fr_ckpt_blob), so `frugal info` can say how big
 * a model is whatever run state its checkpoint carries. */
#include "frugal/io.h"

#include <string.h>

void fr_st_count(const struct fr_st_file *f, struct fr_st_counts *c) {
    memset(c, 0, sizeof *c);
    for (int i = 0; i < f->n; i++) {
        const struct fr_st_entry *e = &f->entries[i];
        if (strncmp(e->name, "__", 2) == 0) {
            c->state += e->nelem;
            c->state_tensors++;
        } else {
            c->params += e->nelem;
            c->param_tensors++;
        }
        c->data_bytes += e->nbytes;
    }
}

/* transformer_internal.h: what transformer.c shares with the Hugging Face
 * loader (transformer_hf.c); private to src/models. */
#ifndef FRUGAL_MODELS_TRANSFORMER_INTERNAL_H
#define FRUGAL_MODELS_TRANSFORMER_INTERNAL_H

#include "frugal/transformer.h"

/* Declares m->cfg's parameters (names, shapes; no data) into m->params and
 * each wmat's .t. Allocates only the layer table and the parameter list, so
 * the config can be checked against a file before the model's memory is. */
int fr_tf_declare(struct fr_tf_model *m);
/* Points every wmat at its tensor's data once the tensors have it. */
void fr_tf_bind_views(struct fr_tf_model *m);
/* A printable, bounded copy of a string from a file, for one-line messages. */
const char *fr_tf_printable(const char *s, char buf[48]);

/* Loads a Hugging Face checkpoint: config.json beside path, tensors from f
 * (borrowed). On failure m holds what was allocated (fr_tf_free). */
int fr_tf_load_hf(struct fr_tf_model *m, const char *path, const struct fr_st_file *f);

#endif

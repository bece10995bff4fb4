/* zoo.h: private interface between the model table (models.c) and each
 * architecture's file. A builder declares its layers in m->params, allocates
 * the slab, initialises from rng, and sets m->forward and m->impl (malloc'd;
 * fr_model_free releases it with free()). It returns 0 or an error status. */
#ifndef FRUGAL_MODELS_ZOO_H
#define FRUGAL_MODELS_ZOO_H

#include "frugal/models.h"
#include "frugal/nn.h"
#include "frugal/status.h"

int fr_build_mlp(struct fr_model *m, struct fr_rng *rng);
int fr_build_cnn(struct fr_model *m, struct fr_rng *rng);
int fr_build_resnet20(struct fr_model *m, struct fr_rng *rng);
int fr_build_vgg_small(struct fr_model *m, struct fr_rng *rng);
int fr_build_vit(struct fr_model *m, struct fr_rng *rng);
int fr_build_convnext(struct fr_model *m, struct fr_rng *rng); /* convnext and slak */
int fr_build_nb201(struct fr_model *m, struct fr_rng *rng);

/* fr_model_channels per architecture */
int fr_resnet20_channels(const struct fr_model *m, struct fr_channel_layer *out, int cap);
int fr_vgg_small_channels(const struct fr_model *m, struct fr_channel_layer *out, int cap);
/* One channel layer's description from its conv, batch norm and consumer
 * conv (name NULL: the conv weight's prefix). */
int fr_zoo_channel_layer(const struct fr_params *p, struct fr_channel_layer *out, const char *name,
                         const struct fr_conv *conv, const struct fr_bn *bn,
                         const struct fr_conv *next);
/* fr_model_flops per architecture, and one conv's / linear's share at an
 * output of ho x wo. */
int fr_resnet20_flops(const struct fr_model *m, int64_t *dense, int64_t *sparse);
int fr_vgg_small_flops(const struct fr_model *m, int64_t *dense, int64_t *sparse);
int fr_nb201_flops(const struct fr_model *m, int64_t *dense, int64_t *sparse);
void fr_zoo_flops(const struct fr_params *p, const struct fr_tensor *w, int64_t ho, int64_t wo,
                  int64_t *dense, int64_t *sparse);
/* Checks m->cfg's width_mult and nwidths for an architecture with nlayers
 * channel layers, each at most max_width wide when narrowed. */
int fr_zoo_check_widths(const struct fr_model *m, const char *arch, int nlayers, int max_width);

#endif

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

#endif

/* similarity.c: how alike two pruning masks are (lottery.h), over the
 * scoped entries only, so dense tensors do not inflate the agreement. Both
 * set measures (on the pruned sets) and the cosine of the keep-masks are
 * given because the papers report either. */
#include "frugal/methods/lottery.h"

#include "frugal/status.h"

#include <math.h>

int fr_mask_similarity(const struct fr_params *p, const int *sel, const float *a, const float *b,
                       struct fr_mask_similarity *s) {
    int64_t n = 0, pa = 0, pb = 0, both = 0;
    for (int i = 0; i < p->count; i++) {
        if (!sel[i]) continue;
        int64_t o = p->items[i].offset, k = fr_nelem(p->items[i].t);
        for (int64_t j = o; j < o + k; j++) {
            int za = a[j] == 0.0f, zb = b[j] == 0.0f;
            pa += za;
            pb += zb;
            both += za && zb;
        }
        n += k;
    }
    if (n == 0) return fr_error(FR_EINVAL, "mask similarity: empty scope");
    int64_t uni = pa + pb - both, ka = n - pa, kb = n - pb, keep_both = n - uni;
    int64_t mn = pa < pb ? pa : pb;
    s->n = n;
    s->pruned_a = pa;
    s->pruned_b = pb;
    s->pruned_both = both;
    s->iou = uni ? (double)both / (double)uni : 1.0;
    s->overlap = mn ? (double)both / (double)mn : 1.0;
    s->keep_cosine =
        ka && kb ? (double)keep_both / sqrt((double)ka * (double)kb) : (ka == kb ? 1.0 : 0.0);
    s->agreement = (double)(both + keep_both) / (double)n;
    return 0;
}

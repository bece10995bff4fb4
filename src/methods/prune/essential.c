/* essential.c: the essential sparsity of an accuracy (or loss) vs sparsity
 * curve (prune.h; Essential Sparsity, arXiv 2306.03805): the last sparsity
 * before the first point that is worse than the dense model by more than a
 * tolerance. The caller runs the curve and chooses the tolerance (points of
 * accuracy, a relative loss increase); this file only reads scores. */
#include "frugal/methods/prune.h"

int fr_prune_essential_index(const double *score, int n, double limit, int higher_is_better,
                             int *drop) {
    *drop = -1;
    for (int i = 1; i < n; i++) {
        int ok = higher_is_better ? score[i] >= limit : score[i] <= limit; /* NaN: not ok */
        if (!ok) {
            *drop = i;
            return i - 1;
        }
    }
    return n - 1;
}

/* sets.h: DeepSets with the LP (linear + power) and LE (linear +
 * exponential) embedding layers of "Polynomial width is sufficient for set
 * representation" (Wang et al., ICLR 2024), plus the tools to measure how
 * wide the latent space must be.
 *
 * A batch of sets is a tensor x {D, N, B} (D features innermost, N element
 * slots, B sets) and a mask {1, N, B} of 1 (element present) / 0 (padding),
 * so sets of different sizes share a batch. Complex sets are split into
 * real and imaginary parts first (fr_sets_complex_split: D complex features
 * become 2D real ones).
 *
 *     f(X)   = rho( pool_i phi(x_i) )             invariant model
 *     f(X)_j = rho( x_j, pool_i phi(x_i) )        equivariant model
 *
 * phi is one of
 *     LP : phi(x) = [ (w_k^T x)^j ]  k = 1..K, j = 1..deg   (L = K * deg)
 *     LE : phi(x) = [ exp(v_l^T x) ] l = 1..L
 *     MLP: Linear-ReLU-Linear, the usual DeepSets encoder
 * built from autograd ops (fr_linear, fr_pow, fr_exp, ...), so gradients are
 * automatic and every layer runs in F32 or F64 (F64 through the reference
 * kernels). Pooling is a masked sum (mean and max for comparison).
 *
 * Example:
 *     struct fr_sets_config c;
 *     fr_sets_config_defaults(&c, FR_SETS_LP, 3, 5, 1);  // phi, D, N, outputs
 *     c.width = 4;                                       // K = 4 directions, L = 20
 *     struct fr_sets_model m;
 *     fr_sets_model_init(&m, &c, &rng);
 *     fr_sets_model_fit_normaliser(&m, xs, mask, n_sets);
 *     y = fr_sets_model_forward(ctx, &m, x, mask);       // {1, B}
 *
 * The second half of the header is the injectivity side, in plain double
 * precision (no autograd, analytic gradients): the sum embedding of one set,
 * the permutation-invariant distance, the constructive LP weights of the
 * paper, an injectivity probe that searches for two different sets with
 * (nearly) equal embeddings, and a conditioning check that says when F32 is
 * not enough. Nothing here prints; warnings come back in structs.
 */
#ifndef FRUGAL_SETS_H
#define FRUGAL_SETS_H

#include "frugal/nn.h"
#include "frugal/ops.h"
#include "frugal/params.h"
#include "frugal/rng.h"

#ifdef __cplusplus
extern "C" {
#endif

enum fr_sets_phi { FR_SETS_LP = 0, FR_SETS_LE = 1, FR_SETS_MLP = 2 };
enum fr_sets_pool { FR_SETS_SUM = 0, FR_SETS_MEAN = 1, FR_SETS_MAX = 2 };

/* "lp", "le", "mlp" / "sum", "mean", "max"; -1 if unknown. */
int fr_sets_phi_parse(const char *s);
int fr_sets_pool_parse(const char *s);
const char *fr_sets_phi_name(enum fr_sets_phi k);

/* ---- functional layers (any float dtype; w shares x's dtype) ---- */

/* LP: x {D, N, B} (or {D, M}), w {D, K} (PyTorch [K, D]) -> {K*deg, N, B}
 * with row (j-1)*K + k = (w_k^T x)^j, j = 1..deg (power-major). NULL on bad
 * shapes or deg outside 1..64. */
fr_t *fr_sets_lp(struct fr_ctx *ctx, fr_t *x, fr_t *w, int64_t deg);
/* LE: x {D, N, B}, v {D, L} -> {L, N, B} with row l = exp(v_l^T x). */
fr_t *fr_sets_le(struct fr_ctx *ctx, fr_t *x, fr_t *v);
/* Pools phi {L, N, B} over the N slots where mask {1, N, B} is nonzero
 * (mask NULL: every slot) -> {L, B}. MEAN divides by the count of present
 * elements (at least 1); MAX ignores padded slots (an empty set gives 0).
 * Values of padded slots never reach the result, even when non-finite. */
fr_t *fr_sets_pool(struct fr_ctx *ctx, fr_t *phi, fr_t *mask, enum fr_sets_pool kind);

/* ---- the embedding layer phi over a parameter slab ---- */

struct fr_sets_embed {
    enum fr_sets_phi kind;
    int64_t d;                 /* input features */
    int64_t k;                 /* LP: directions; LE: outputs; MLP: outputs */
    int64_t deg;               /* LP: highest power (the set size N); else 1 */
    int64_t l;                 /* output width L */
    struct fr_tensor *w;       /* LP {D, K}, LE {D, L} */
    struct fr_linear fc1, fc2; /* MLP: D -> hidden -> L */
};

/* Declares phi's parameters as "<prefix>.weight" (LP, LE) or "<prefix>.0",
 * "<prefix>.2" (MLP). width is K for LP (L = K * deg) and L otherwise;
 * hidden is the MLP's hidden width. 0 or FR_EINVAL. */
int fr_sets_embed_declare(struct fr_params *p, struct fr_sets_embed *e, const char *prefix,
                          enum fr_sets_phi kind, int64_t d, int64_t width, int64_t deg,
                          int64_t hidden);
/* Random init: LP unit-norm Gaussian directions, LE N(0, scale^2 / D) rows
 * (scale 1 keeps exp(v^T x) within e^{+-3} on inputs normalised to [-1, 1]),
 * MLP PyTorch's default. */
void fr_sets_embed_init(struct fr_sets_embed *e, double le_scale, struct fr_rng *rng);
/* x {D, N, B} -> {L, N, B}. */
fr_t *fr_sets_embed_forward(struct fr_ctx *ctx, const struct fr_sets_embed *e, fr_t *x);

/* ---- the DeepSets model ---- */

struct fr_sets_config {
    enum fr_sets_phi phi;
    enum fr_sets_pool pool;
    int64_t d;          /* input features */
    int64_t n;          /* largest set size (the LP degree) */
    int64_t width;      /* LP: K directions; LE and MLP: L */
    int64_t phi_hidden; /* MLP phi hidden width (default 64) */
    int64_t rho_hidden; /* rho hidden width (default 64) */
    int rho_layers;     /* hidden layers of rho, 1..3 (default 2) */
    int64_t out;        /* outputs per set (invariant) or per element (equivariant) */
    int equivariant;    /* f(X)_j = rho(x_j, pool phi) */
    double le_scale;    /* LE init scale (default 1) */
    int64_t lp_deg;     /* LP highest power, 1..64; 0 (default): n. Below n the
                           truncated power sums let L = K * deg fall below N
                           (they cannot separate all sets of n elements) */
};

void fr_sets_config_defaults(struct fr_sets_config *c, enum fr_sets_phi phi, int64_t d, int64_t n,
                             int64_t out);

struct fr_sets_model {
    struct fr_sets_config c;
    struct fr_params params;
    struct fr_sets_embed phi;
    struct fr_linear rho[4];
    int nrho;
    struct fr_tensor *center, *scale; /* input normaliser buffers {D} */
    int64_t l;                        /* latent width L */
};

/* Declares, allocates and initialises a model. 0, FR_EINVAL (bad config)
 * or FR_ENOMEM. fr_sets_model_free releases it (NULL-safe). */
int fr_sets_model_init(struct fr_sets_model *m, const struct fr_sets_config *c, struct fr_rng *rng);
void fr_sets_model_free(struct fr_sets_model *m);
/* Sets the input normaliser from nsets training sets (x: nsets * n * d
 * floats, set-major, element-major; mask: nsets * n floats or NULL): each
 * feature is centred on its mean over present elements and scaled so the
 * largest |value| becomes 1. A constant feature gets scale 1. */
int fr_sets_model_fit_normaliser(struct fr_sets_model *m, const float *x, const float *mask,
                                 int64_t nsets);
/* x {D, N, B}, mask {1, N, B} or NULL (same dtype as x) -> {out, B}
 * (invariant) or {out, N, B} (equivariant). Inputs must be F32 (the model's
 * slab is F32). NULL on bad shapes. */
fr_t *fr_sets_model_forward(struct fr_ctx *ctx, const struct fr_sets_model *m, fr_t *x, fr_t *mask);

/* ---- set functions to learn, and a small training loop ---- */

enum fr_sets_task {
    FR_SETS_TASK_LEXMEDIAN = 0, /* the lexicographic median element (D outputs) */
    FR_SETS_TASK_SORTED0,       /* coordinate 0 of the elements, sorted (N outputs) */
    FR_SETS_TASK_PAIRPROD,      /* sum_{i<j} <x_i, x_j> (1 output) */
    FR_SETS_TASK_RANK,          /* equivariant: each element's rank along a fixed
                                   direction, scaled to [0, 1] (1 output per element) */
    FR_SETS_TASK_CPAIR,         /* complex: x_i = (re, im) split of dc = D/2 complex
                                   features; Re and Im of sum_f sum_{i<j} z_if z_jf */
    FR_SETS_NTASKS
};
/* "lexmedian", "sorted0", "pairprod", "rank", "cpair"; -1 if unknown. */
int fr_sets_task_parse(const char *s);
const char *fr_sets_task_name(enum fr_sets_task t);
/* Outputs per set (per element for RANK); 0 for a bad task / shape (CPAIR
 * needs even d). */
int64_t fr_sets_task_outputs(enum fr_sets_task t, int64_t n, int64_t d);
/* nsets sets of n elements drawn uniformly from [-1, 1]^d into x
 * (nsets * n * d) and their targets into y (nsets * outputs, or
 * nsets * n for RANK). 0 or FR_EINVAL. */
int fr_sets_task_generate(enum fr_sets_task t, int64_t n, int64_t d, int64_t nsets,
                          struct fr_rng *rng, float *x, float *y);

struct fr_sets_train_opts {
    int64_t steps;       /* AdamW steps (default 1500) */
    int64_t batch;       /* sets per step (default 128) */
    double lr;           /* peak learning rate, cosine to 0 (default 3e-3) */
    double weight_decay; /* default 0 */
    double clip;         /* gradient-norm clip, 0 = none (default 1) */
};
void fr_sets_train_defaults(struct fr_sets_train_opts *o);
/* Trains m (normaliser fitted first) on ntrain sets (x, y as from
 * fr_sets_task_generate, all sets full) with MSE on standardised targets, then
 * returns in *test_err the test MSE divided by the test targets' variance
 * (1 = predicting the mean) and in *train_err the same on the training
 * sets' last batches. 0, or an error (bad shapes, a non-finite loss). */
int fr_sets_train_eval(struct fr_sets_model *m, const float *xtr, const float *ytr, int64_t ntrain,
                       const float *xte, const float *yte, int64_t ntest,
                       const struct fr_sets_train_opts *o, struct fr_rng *rng, double *test_err,
                       double *train_err);

/* Complex sets: z holds count complex numbers as (re, im) pairs, grouped in
 * elements of dc complex features; writes elements of 2*dc reals
 * [re_1..re_dc, im_1..im_dc]. */
void fr_sets_complex_split(const double *z, int64_t nelem, int64_t dc, double *out);

/* ---- double-precision embeddings, distance and the injectivity probe ---- */

/* A fixed LP or LE embedding in double: w holds K (LP) or L (LE) rows of d
 * weights, row-major. */
struct fr_sets_emb64 {
    enum fr_sets_phi kind; /* FR_SETS_LP or FR_SETS_LE */
    int64_t d, k, deg;     /* LE: k = L, deg = 1 */
    const double *w;
};
/* Rows of Phi follow fr_sets_lp: LP row (j-1)*K + k = sum_i (w_k^T x_i)^j. */
/* Output width L (K * deg for LP, K for LE). */
int64_t fr_sets_emb64_width(const struct fr_sets_emb64 *e);
/* Phi(X) = sum_i phi(x_i) for one set X (n x d, row-major) into out[L]. */
void fr_sets_emb64_sum(const struct fr_sets_emb64 *e, const double *x, int64_t n, double *out);
/* dx[i] += sum_l g[l] * d phi_l(x_i) / d x_i (the gradient of g . Phi(X)). */
void fr_sets_emb64_sum_grad(const struct fr_sets_emb64 *e, const double *x, int64_t n,
                            const double *g, double *dx);
/* The smallest singular value of the L x (n*d) Jacobian of Phi at X (0 up
 * to round-off when L < n*d or X has coinciding elements); NaN on
 * allocation failure. */
double fr_sets_emb64_jac_smin(const struct fr_sets_emb64 *e, const double *x, int64_t n);

/* Permutation-invariant distance d(X, Y) = min_P ||X - P Y||_F between two
 * sets of n elements of d features (Hungarian algorithm, O(n^3)); perm
 * (may be NULL) receives the optimal matching: x_i <-> y_perm[i]. n <= 64. */
double fr_sets_set_distance(const double *x, const double *y, int64_t n, int64_t d, int *perm);
/* The same by trying all n! permutations (n <= 9): the naive twin. */
double fr_sets_set_distance_brute(const double *x, const double *y, int64_t n, int64_t d);

/* The paper's constructive LP weights for sets of n elements in R^d:
 * the d identity directions, k1 = n(n-1)(d-1)/2 + 1 anchor candidates in
 * general position (points on the moment curve (1, t, .., t^{d-1}) at
 * distinct t in [-1, 1], so any d of them are independent), and the mixing
 * directions e_i - gamma_g * a_j for the first k2 = n(n-1) + 1 primes
 * gamma_g. Returns K = d + k1 + d * k1 * k2 (so L = K * n) and writes k1,
 * k2 (either may be NULL); for d = 1 the single direction e_1 suffices
 * (K = 1). */
int64_t fr_sets_lp_constructive_size(int64_t n, int64_t d, int64_t *k1, int64_t *k2);
/* Writes the K x d directions (K from fr_sets_lp_constructive_size) into w,
 * each scaled to unit norm when normalise (injectivity is unchanged by
 * per-direction scaling; it keeps the powers in range). 0 or FR_EINVAL. */
int fr_sets_lp_constructive(int64_t n, int64_t d, int normalise, double *w, int64_t kcap);

/* The LE counterpart, derived from the LP construction (the paper's LE
 * bound N^4 D^2 rests on a different argument that frugal does not
 * implement): for each of the K constructive LP directions w_k (unit norm)
 * the n exponent vectors j w_k, j = 1..n, so that exp(j w_k^T x) = z^j with
 * z = exp(w_k^T x). exp is injective, so the n power sums of the z_i give
 * the multiset of projections on w_k, as LP's do, and the LP argument
 * carries over unchanged. Rows follow LP's power-major order: row
 * (j-1)*K + k. Returns L = n * K (0 for n or d outside 1..64). On
 * [-1, 1]^d, |v^T x| <= n sqrt(d). (Exponents j / n keep that below
 * sqrt(d) but squeeze the z_i into [e^{-1/n}, e^{1/n}], which moves the
 * probe's smallest ratio toward the collision line.) */
int64_t fr_sets_le_constructive_size(int64_t n, int64_t d);
/* Writes the L x d exponent vectors into v (room for lcap rows). 0 or
 * FR_EINVAL / FR_ENOMEM. */
int fr_sets_le_constructive(int64_t n, int64_t d, double *v, int64_t lcap);

/* Certified collision for LP: with the k directions split into groups of at
 * most d-1, a vector v_g orthogonal to each group, and m groups, the sets
 * of even / odd subset sums of the v_g (2^(m-1) points each) have equal
 * projections on every direction, so equal LP embeddings. Builds such a
 * pair padded with shared points to n elements inside [-1, 1]^d with
 * elements at least ~sep apart. Returns 1 and fills x, y (n x d) when
 * 2^(m-1) <= n (i.e. k <= (d-1)(floor(log2 n) + 1)), 0 when no such
 * construction exists (d = 1 or too many directions). */
int fr_sets_lp_switching_pair(const struct fr_sets_emb64 *e, int64_t n, double sep,
                              struct fr_rng *rng, double *x, double *y);
/* The number of LP directions from which the switching construction no
 * longer applies: (d-1)(floor(log2 n) + 1) + 1 for d >= 2, 1 for d = 1
 * (power sums of one coordinate are injective). LP on sets of n elements in
 * R^d with fewer directions has certified collisions, so K * n is a lower
 * bound on its latent width. n, d >= 1. */
int64_t fr_sets_lp_certified_k(int64_t n, int64_t d);
/* k random LP directions in R^d into w (k x d, row-major): Gaussian rows
 * scaled to unit norm, drawn in order from rng (so the first j rows of a
 * larger draw are a draw of j: nested widths share their directions). */
void fr_sets_lp_random(int64_t k, int64_t d, struct fr_rng *rng, double *w);

struct fr_sets_probe_opts {
    int64_t random_pairs; /* independent random set pairs (default 2000) */
    int64_t near_pairs;   /* random sets X at which the near-duplicate limit
                             min_u ||J(X) u|| / ||u|| (J the Jacobian of Phi, the
                             ratio for X' = X + eps u as eps -> 0) is computed
                             exactly (default 200) */
    int restarts;         /* optimiser restarts (default 8) */
    int steps;            /* Adam steps per restart (default 600) */
    double lr;            /* Adam learning rate (default 0.02) */
    double sep;           /* elements of a set kept >= sep apart (default 0.1) */
    int equivariant;      /* 1: probe what the equivariant model's rho sees,
                             Psi(X) = (x_1, Phi(X)) with x_1 the set's first
                             element, against the distance of pointed sets
                             sqrt(||x_1 - x'_1||^2 + d(X \ x_1, X' \ x'_1)^2);
                             a collision then needs x_1 ~ x'_1 (default 0) */
};
void fr_sets_probe_defaults(struct fr_sets_probe_opts *o);

struct fr_sets_probe_result {
    double ratio_random; /* min ||Phi(X) - Phi(X')|| / d(X, X') per strategy */
    double ratio_near;   /* the Jacobian's smallest singular value (0 when L < N*D) */
    double ratio_opt;
    double ratio_switch; /* the certified construction (NaN: none exists); an
                            exact collision, so only distinct elements are
                            required, not the separation margin */
    double ratio_min;    /* min of the four */
    double dist_at_min;  /* d(X, X') of the minimising pair */
    int64_t evals;       /* embedding evaluations spent */
};

/* Searches for two different sets of n elements in [-1, 1]^d, elements of
 * each set at least o->sep apart, whose sum embeddings are close relative to
 * their distance. The separation matters: without it every layer's ratio
 * tends to 0 near sets with coinciding elements (D = 1: {t, t} vs
 * {t + e, t - e} gives ratio ~ e), since sum pooling is injective but not
 * bi-Lipschitz there. x_best, y_best (may be NULL) receive the minimising
 * pair. 0 or FR_EINVAL / FR_ENOMEM. */
int fr_sets_probe(const struct fr_sets_emb64 *e, int64_t n, const struct fr_sets_probe_opts *o,
                  struct fr_rng *rng, struct fr_sets_probe_result *r, double *x_best,
                  double *y_best);

/* Conditioning of a fixed embedding on a sample of sets: the pooled
 * embedding computed in F32 against F64. */
struct fr_sets_cond {
    double max_abs;     /* largest |Phi| coordinate */
    double dyn_range;   /* largest / smallest per-coordinate RMS of Phi */
    double rel_err_f32; /* max over coordinates of |Phi32 - Phi64| / RMS */
    int ill;            /* 1: F32 loses the embedding (use F64 or normalise) */
    char msg[200];      /* why, when ill; "" otherwise */
};
/* x: nsets sets of n elements (nsets * n * d doubles). 0 or FR_EINVAL. */
int fr_sets_condition(const struct fr_sets_emb64 *e, const double *x, int64_t n, int64_t nsets,
                      struct fr_sets_cond *c);

/* ---- reading widths off measured curves ---- */

/* The injectivity threshold L* of a probed curve: ratio[i] is the smallest
 * ratio found at latent width width[i] (n points, widths increasing); a
 * ratio below collide is a collision. Returns the smallest width from which
 * no probed width collided (the start of the last collision-free run), NaN
 * when the last point collides or n < 1. A NaN ratio counts as no
 * collision. */
double fr_sets_probe_threshold(const double *width, const double *ratio, int n, double collide);
/* The smallest finite err[i] (n points); NaN when none is finite. */
double fr_sets_best_error(const double *err, int n);
/* The saturation width of a learning curve: the smallest width[i] whose
 * error err[i] is within 10% (+0.01) of the best finite error,
 * err <= 1.1 * best + 0.01 (non-finite errors, e.g. a diverged run, are
 * skipped). NaN when no error is finite. */
double fr_sets_saturation_width(const double *width, const double *err, int n);
/* Least squares y = a + b u + c v over n points (a tiny ridge keeps a
 * constant column solvable); writes b and c and returns R^2 (NaN when y is
 * constant). With u, v = log N, log D and y = log L_sat, b and c are the
 * polynomial exponents of the saturation width; with u, v = N, D, an
 * exponential growth's rates. */
double fr_sets_fit_width(const double *y, const double *u, const double *v, int n, double *b,
                         double *c);

#ifdef __cplusplus
}
#endif
#endif

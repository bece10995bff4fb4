/* matvec_avx2.c: AVX2 + FMA + F16C matvec kernels (see matvec.h). */
#include <immintrin.h>
#include <string.h>

#include "matvec.h"

static inline float hsum256(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

#define VF __m256
#define VW 8
#define VZERO() _mm256_setzero_ps()
#define VLOADX(p) _mm256_loadu_ps(p)
#define VFMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define VHSUM(v) hsum256(v)
#define VADD(a, b) _mm256_add_ps(a, b)

#define WT float
#define LOADW(p) _mm256_loadu_ps(p)
#define SCALARW(v) (v)
#define NAME fr_matvec_avx2_f32
#define VSET1(s) _mm256_set1_ps(s)
#define VSTORE(p, v) _mm256_storeu_ps(p, v)
#define NAME_T fr_vecmat_avx2
#include "matvec_tmpl.h"
#undef NAME_T
#undef WT
#undef LOADW
#undef SCALARW
#undef NAME

#define WT uint16_t
#define LOADW(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p)))
#define SCALARW(v) fr_f16_to_f32(v)
#define NAME fr_matvec_avx2_f16
#include "matvec_tmpl.h"
#undef LOADW
#undef SCALARW
#undef NAME

#define LOADW(p)                                                                                   \
    _mm256_castsi256_ps(                                                                           \
        _mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(p))), 16))
#define SCALARW(v) fr_bf16_to_f32(v)
#define NAME fr_matvec_avx2_bf16
#include "matvec_tmpl.h"

/* finite.c: fr_first_nonfinite (tensor.h), the loaders' finiteness check.
 *
 * A float is NaN or infinite exactly when its exponent bits are all ones,
 * that is when its magnitude bits (sign cleared) are at least those of
 * infinity. Adding the lowest exponent bit to the magnitude carries into the
 * sign position exactly then, so one block is judged by and/add/or alone
 * (no compare, no branch: the compiler vectorises it with any SIMD width) and
 * only a block with a bad element is searched again for its index. Data from
 * a file may be unaligned, so elements are read through memcpy.
 */
#include "frugal/tensor.h"

#include <string.h>

#define BLOCK 4096 /* elements judged per pass before the early exit */

#define SCAN(NAME, T, SIZE, MAG, ONE, TOP)                                                         \
    static int64_t NAME(const unsigned char *p, int64_t n) {                                       \
        for (int64_t i0 = 0; i0 < n; i0 += BLOCK) {                                                \
            int64_t m = n - i0 < BLOCK ? n - i0 : BLOCK;                                           \
            const unsigned char *b = p + (size_t)i0 * SIZE;                                        \
            T acc = 0;                                                                             \
            for (int64_t k = 0; k < m; k++) {                                                      \
                T u;                                                                               \
                memcpy(&u, b + (size_t)k * SIZE, SIZE);                                            \
                acc |= (T)((T)(u & MAG) + ONE);                                                    \
            }                                                                                      \
            if (!(acc & TOP)) continue;                                                            \
            for (int64_t k = 0; k < m; k++) {                                                      \
                T u;                                                                               \
                memcpy(&u, b + (size_t)k * SIZE, SIZE);                                            \
                if ((T)((T)(u & MAG) + ONE) & TOP) return i0 + k;                                  \
            }                                                                                      \
        }                                                                                          \
        return -1;                                                                                 \
    }

/* magnitude mask, lowest exponent bit, sign bit */
SCAN(scan_f32, uint32_t, 4, 0x7fffffffu, 0x00800000u, 0x80000000u)
SCAN(scan_f64, uint64_t, 8, 0x7fffffffffffffffu, 0x0010000000000000u, 0x8000000000000000u)
SCAN(scan_f16, uint16_t, 2, 0x7fffu, 0x0400u, 0x8000u)
SCAN(scan_bf16, uint16_t, 2, 0x7fffu, 0x0080u, 0x8000u)

int64_t fr_first_nonfinite(const void *data, enum fr_dtype dt, int64_t n) {
    if (!data || n <= 0) return -1;
    switch (dt) {
    case FR_F32:
        return scan_f32(data, n);
    case FR_F64:
        return scan_f64(data, n);
    case FR_F16:
        return scan_f16(data, n);
    case FR_BF16:
        return scan_bf16(data, n);
    default:
        return -1;
    }
}

/* clock.h: the one wall clock every timer in frugal reads (progress bars,
 * training logs, repro timings, benchmarks). */
#ifndef FRUGAL_CLOCK_H
#define FRUGAL_CLOCK_H

#ifdef __cplusplus
extern "C" {
#endif

/* Seconds on the monotonic clock (CLOCK_MONOTONIC) from an arbitrary origin:
 * only differences mean anything. */
double fr_seconds(void);

#ifdef __cplusplus
}
#endif
#endif

/* clock.c: fr_seconds (clock.h). */
#include "frugal/clock.h"

#include <time.h>

double fr_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

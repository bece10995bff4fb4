/* machine.c: what a results file records about where it ran: CPU model,
 * cores, the ISA the kernels use, thread count, the commit the library was
 * built from. Reads /proc/cpuinfo; a field that cannot be read says
 * "unknown" rather than failing the experiment. */
#include "frugal/kernels.h"
#include "frugal/report.h"
#include "frugal/threads.h"
#include "frugal_build_commit.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifndef FRUGAL_VERSION
#define FRUGAL_VERSION "unknown"
#endif

const char *fr_version(void) {
    return FRUGAL_VERSION;
}

static void cpu_model(char *out, size_t cap) {
    char line[512];
    snprintf(out, cap, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) != 0) continue;
        char *colon = strchr(line, ':');
        if (!colon) continue;
        char *s = colon + 1;
        while (*s == ' ' || *s == '\t')
            s++;
        size_t n = strcspn(s, "\r\n");
        snprintf(out, cap, "%.*s", (int)n, s);
        break;
    }
    fclose(f);
}

/* The commit the library was built from (scripts/build-commit.cmake), not
 * the working directory's: a run records the code that ran, also when it
 * outlives a commit or runs installed inside another repository. */
static void build_commit(char *out, size_t cap) {
    snprintf(out, cap, "%s", FRUGAL_BUILD_COMMIT);
}

void fr_machine_probe(struct fr_machine *m) {
    memset(m, 0, sizeof *m);
    cpu_model(m->cpu, sizeof m->cpu);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    m->cores = n > 0 ? (int)n : 1;
    m->isa = fr_isa_name(fr_cpu_isa());
    m->threads = fr_threads_get();
    build_commit(m->commit, sizeof m->commit);
    m->version = fr_version();
}

/* machine.c: what a results file records about where it ran: CPU model,
 * cores, the ISA the kernels use, thread count, the git commit. Reads
 * /proc/cpuinfo and runs `git rev-parse HEAD`; both may be absent, and then
 * the field says "unknown" rather than failing the experiment. */
#include "frugal/kernels.h"
#include "frugal/report.h"
#include "frugal/threads.h"

#include <ctype.h>
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

static void git_commit(char *out, size_t cap) {
    char buf[128] = "";
    snprintf(out, cap, "unknown");
    FILE *p = popen("git rev-parse HEAD 2>/dev/null", "r");
    if (!p) return;
    if (!fgets(buf, sizeof buf, p)) buf[0] = '\0';
    pclose(p);
    size_t n = strcspn(buf, "\r\n");
    buf[n] = '\0';
    if (n != 40) return;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)buf[i])) return;
    buf[40] = '\0'; /* n == 40: says so to the compiler's truncation check too */
    snprintf(out, cap, "%.40s", buf);
}

void fr_machine_probe(struct fr_machine *m) {
    memset(m, 0, sizeof *m);
    cpu_model(m->cpu, sizeof m->cpu);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    m->cores = n > 0 ? (int)n : 1;
    m->isa = fr_isa_name(fr_cpu_isa());
    m->threads = fr_threads_get();
    git_commit(m->commit, sizeof m->commit);
    m->version = fr_version();
}

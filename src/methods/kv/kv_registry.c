/* kv_registry.c: KV-cache policies by name (methods/kv.h). The built-in
 * policies sit in a constant table; policies added at run time
 * (fr_kv_policy_register) go into a small table behind a mutex. The nn
 * layer below never looks a policy up: it is handed a pointer.
 */
#include "frugal/methods/kv.h"
#include "frugal/status.h"

#include <pthread.h>
#include <string.h>

#define KV_MAX_POLICIES 32

static const struct fr_kv_policy *const BUILTIN[] = {
    &fr_kv_policy_full, &fr_kv_policy_local, &fr_kv_policy_h2o,     &fr_kv_policy_heavy,
    &fr_kv_policy_sink, &fr_kv_policy_tova,  &fr_kv_policy_h2o_anti};
#define NBUILTIN ((int)(sizeof BUILTIN / sizeof BUILTIN[0]))

/* Run-time registrations and the name list handed out; both guarded. */
static struct {
    pthread_mutex_t lock;
    const struct fr_kv_policy *added[KV_MAX_POLICIES];
    int nadded;
    const char *names[KV_MAX_POLICIES + NBUILTIN + 1];
} g_reg = {PTHREAD_MUTEX_INITIALIZER, {0}, 0, {0}};

static const struct fr_kv_policy *find_locked(const char *name) {
    for (int i = 0; i < NBUILTIN; i++)
        if (strcmp(BUILTIN[i]->name, name) == 0) return BUILTIN[i];
    for (int i = 0; i < g_reg.nadded; i++)
        if (strcmp(g_reg.added[i]->name, name) == 0) return g_reg.added[i];
    return NULL;
}

const struct fr_kv_policy *fr_kv_policy_find(const char *name) {
    if (!name) return &fr_kv_policy_full;
    pthread_mutex_lock(&g_reg.lock);
    const struct fr_kv_policy *p = find_locked(name);
    pthread_mutex_unlock(&g_reg.lock);
    return p;
}

const char *const *fr_kv_policy_names(void) {
    pthread_mutex_lock(&g_reg.lock);
    int n = 0;
    for (int i = 0; i < NBUILTIN; i++)
        g_reg.names[n++] = BUILTIN[i]->name;
    for (int i = 0; i < g_reg.nadded; i++)
        g_reg.names[n++] = g_reg.added[i]->name;
    g_reg.names[n] = NULL;
    pthread_mutex_unlock(&g_reg.lock);
    return g_reg.names;
}

int fr_kv_policy_register(const struct fr_kv_policy *p) {
    if (!p || !p->name || !p->name[0] || !p->capacity || !p->admit)
        return fr_error(FR_EINVAL, "kv policy: needs a name, capacity and admit");
    int rc = 0;
    pthread_mutex_lock(&g_reg.lock);
    if (find_locked(p->name))
        rc = fr_error(FR_EINVAL, "kv policy '%s' is already registered", p->name);
    else if (g_reg.nadded >= KV_MAX_POLICIES)
        rc = fr_error(FR_ENOMEM, "kv policy registry is full (%d)", KV_MAX_POLICIES);
    else
        g_reg.added[g_reg.nadded++] = p;
    pthread_mutex_unlock(&g_reg.lock);
    return rc;
}

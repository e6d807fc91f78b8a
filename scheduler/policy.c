/* policy.c — registry of scheduler policies and the out-of-tree loader.
 *
 * sched_policy_find maps a config name to a built-in table; sched_policy_load
 * dlopens a shared object and checks the versioned ABI of the table it
 * exports; sched_policy_resolve picks between the two by the look of the
 * name (a path contains '/' or ends in ".so").
 */
#include "policy.h"

#include <dlfcn.h>
#include <string.h>

#include "hb_log.h"

static const sched_policy_ops_t *const s_builtin[] = {
    &sched_policy_calvin,
    &sched_policy_serial,
};

const sched_policy_ops_t *
sched_policy_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < sizeof s_builtin / sizeof s_builtin[0]; i++)
        if (strcmp(s_builtin[i]->name, name) == 0)
            return s_builtin[i];
    return NULL;
}

const sched_policy_ops_t *
sched_policy_load(const char *path)
{
    if (!path)
        return NULL;
    void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        const char *err = dlerror();
        hb_error("policy %s: cannot load: %s", path, err ? err : "?");
        return NULL;
    }
    const sched_policy_ops_t *ops = dlsym(handle, SCHED_POLICY_SYMBOL);
    if (!ops) {
        hb_error("policy %s: no symbol %s", path, SCHED_POLICY_SYMBOL);
        goto fail;
    }
    if (ops->abi != SCHED_POLICY_ABI) {
        hb_error("policy %s: ABI %u, this scheduler needs %u", path, ops->abi,
                 (unsigned)SCHED_POLICY_ABI);
        goto fail;
    }
    if (!ops->name || !ops->create || !ops->destroy || !ops->submit || !ops->complete) {
        hb_error("policy %s: incomplete ops table (name, create, destroy, submit and "
                 "complete are required)",
                 path);
        goto fail;
    }
    hb_info("policy %s: loaded \"%s\"", path, ops->name);
    /* The object stays loaded for the life of the process: the table and
     * the code it points to are used until exit. */
    return ops;
fail:
    dlclose(handle);
    return NULL;
}

const sched_policy_ops_t *
sched_policy_resolve(const char *name)
{
    if (!name)
        return NULL;
    size_t len = strlen(name);
    if (strchr(name, '/') || (len >= 3 && strcmp(name + len - 3, ".so") == 0))
        return sched_policy_load(name);
    return sched_policy_find(name);
}

/* A thread's alternate signal stack, kept as ovfast found it across OpenVINO calls.
 *
 * OpenVINO's CPU plugin (SigAltStackSetup, one per plugin instance, for AMX's larger signal frames) installs
 * an alternate signal stack of its own on the thread that creates the instance and, when the instance is
 * destroyed, puts back the one it found there and unmaps its own. Instances destroyed out of the order
 * they were created in (two Cores, or ovfast's and openvino's, freed first-in first-out) leave the thread's
 * alternate stack pointing at unmapped memory; the next signal handled on it (Python installs its handlers
 * with SA_ONSTACK: Ctrl-C, SIGTERM, a signal.signal handler) kills the process with SIGSEGV and no
 * traceback, or writes into memory that something else took meanwhile. Every ovfast call that may create or
 * destroy a plugin instance is wrapped in ovf_altstack_save/ovf_altstack_restore, so that ovfast's
 * instances never change a thread's alternate stack: what it had before stays (or, where it is too small
 * for this CPU's signal frames, a stack of ovfast's own that is never freed). */
#ifndef OVFAST_ALTSTACK_H
#define OVFAST_ALTSTACK_H

#include <signal.h>
#include <stddef.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef AT_MINSIGSTKSZ
#define AT_MINSIGSTKSZ 51
#endif

typedef struct {
    stack_t saved;
    int ok;
} ovf_altstack;

static inline void ovf_altstack_save(ovf_altstack* a) {
    a->ok = sigaltstack(NULL, &a->saved) == 0;
}

static inline void ovf_altstack_restore(ovf_altstack* a) {
    static __thread void* own = NULL;   /* this thread's stack of ovfast's, made once, never freed */
    stack_t now, want;
    size_t need;
    if (!a->ok || sigaltstack(NULL, &now) != 0)
        return;
    if (now.ss_flags & SS_ONSTACK)      /* a handler runs on it: it cannot change now */
        return;
    if (now.ss_sp == a->saved.ss_sp && now.ss_size == a->saved.ss_size &&
        (now.ss_flags & SS_DISABLE) == (a->saved.ss_flags & SS_DISABLE))
        return;
    want = a->saved;
    want.ss_flags &= SS_DISABLE;
    need = (size_t)getauxval(AT_MINSIGSTKSZ) + (size_t)SIGSTKSZ;
    if (!(want.ss_flags & SS_DISABLE) && want.ss_size < need) {
        if (own == NULL) {
            void* p = mmap(NULL, need, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
            if (p == MAP_FAILED)
                return;                 /* keep the plugin's: valid while its instance lives */
            own = p;
        }
        want.ss_sp = own;
        want.ss_size = need;
    }
    sigaltstack(&want, NULL);
}

#endif

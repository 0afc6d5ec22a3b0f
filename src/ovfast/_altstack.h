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
 * instances never change a thread's alternate stack: what it had before stays; or, where that is too small
 * for this CPU's signal frames or openvino's own plugins already left it on unmapped memory, a stack of
 * ovfast's own that is never freed. */
#ifndef OVFAST_ALTSTACK_H
#define OVFAST_ALTSTACK_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
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

/* Whether [sp, sp + size) is mapped memory (mincore fails with ENOMEM on an unmapped page). */
static inline int ovf_altstack_mapped(void* sp, size_t size) {
    unsigned char vec[8];
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    uintptr_t first = (uintptr_t)sp & ~(uintptr_t)(page - 1);
    uintptr_t last = ((uintptr_t)sp + size - 1) & ~(uintptr_t)(page - 1);
    return mincore((void*)first, page, vec) == 0 && mincore((void*)last, page, vec) == 0;
}

static inline void ovf_altstack_restore(ovf_altstack* a) {
    static __thread void* own = NULL;   /* this thread's stack of ovfast's, made once, never freed */
    stack_t now, want;
    size_t need;
    if (!a->ok || sigaltstack(NULL, &now) != 0)
        return;
    if (now.ss_flags & SS_ONSTACK)      /* a handler runs on it: it cannot change now */
        return;
    /* the stack the thread had before the call; or, where another library's plugins already left it on
       unmapped memory (openvino's own Cores freed out of order), or it is too small for this CPU's
       signal frames, ovfast's own */
    want = a->saved;
    want.ss_flags &= SS_DISABLE;
    need = (size_t)getauxval(AT_MINSIGSTKSZ) + (size_t)SIGSTKSZ;
    if (!(want.ss_flags & SS_DISABLE) && (want.ss_size < need || !ovf_altstack_mapped(want.ss_sp, want.ss_size))) {
        if (own == NULL) {
            void* p = mmap(NULL, need, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
            if (p == MAP_FAILED)
                return;
            own = p;
        }
        want.ss_sp = own;
        want.ss_size = need;
    }
    if (now.ss_sp == want.ss_sp && now.ss_size == want.ss_size &&
        (now.ss_flags & SS_DISABLE) == (want.ss_flags & SS_DISABLE))
        return;
    sigaltstack(&want, NULL);
}

/* Puts a valid alternate stack back where the thread's points at unmapped memory (at import). */
static inline void ovf_altstack_check(void) {
    ovf_altstack a;
    ovf_altstack_save(&a);
    ovf_altstack_restore(&a);
}

#endif

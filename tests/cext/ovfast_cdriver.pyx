# cython: language_level=3
"""A small extension that drives an ovfast AsyncInferQueue from C through `cimport ovfast`,
the way an embedding library would. tests/test_c_api.py builds it (as C, against the installed ovfast)
and bench/test_c_api_bench.py times it; every loop here runs without the GIL."""
from libc.stdint cimport int64_t
from libc.stdlib cimport calloc, free
from libc.string cimport memcpy

cimport numpy as cnp
cimport ovfast

cnp.import_array()
ovfast.check_version()

cdef extern from *:
    """
    #include <sched.h>
    #include <time.h>
    static long long drv_fetch_add(long long* p, long long v) { return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); }
    static long long drv_load(long long* p) { return __atomic_load_n(p, __ATOMIC_SEQ_CST); }
    static void drv_store(long long* p, long long v) { __atomic_store_n(p, v, __ATOMIC_SEQ_CST); }
    static long long drv_now_ms(void) {
        struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
    }
    """
    long long drv_fetch_add(long long* p, long long v) nogil
    long long drv_load(long long* p) nogil
    void drv_store(long long* p, long long v) nogil
    long long drv_now_ms() nogil
    int sched_yield() nogil

cdef enum:
    MAX_PORTS = 8

ctypedef struct drive_t:
    ovfast.ovf_pool* pool
    int n_in, n_out
    char* in_base[MAX_PORTS]
    size_t in_stride[MAX_PORTS]
    char* out_base[MAX_PORTS]
    size_t out_stride[MAX_PORTS]
    long long n              # items
    long long next           # next item to start (atomic)
    long long finished       # items whose outputs are copied (atomic)
    long long* item_of_job
    long long failed         # the first failure's status, 0 if none (atomic)
    char message[512]

# --- a handshake that proves the GIL is free while the C loop runs ---------------------------------------
cdef long long _running = 0
cdef long long _seen = 0

def python_saw_c_running():
    """Called by a Python thread: True (and tells the C loop) if the C loop is running right now."""
    global _seen
    if drv_load(&_running):
        drv_store(&_seen, 1)
        return True
    return False

cdef bint _wait_for_python(long long ms) noexcept nogil:
    cdef long long end = drv_now_ms() + ms
    while not drv_load(&_seen) and drv_now_ms() < end:
        sched_yield()
    return drv_load(&_seen) != 0


cdef void _fail(drive_t* d, int status) noexcept nogil:
    cdef const char* msg
    cdef size_t k = 0
    if drv_fetch_add(&d.failed, 0) == 0:
        msg = ovfast.last_error()
        while msg[k] and k < 511:
            d.message[k] = msg[k]
            k += 1
        d.message[k] = 0
        drv_store(&d.failed, status)


cdef int _fill(drive_t* d, int job, long long item) noexcept nogil:
    cdef void* data
    cdef size_t nbytes
    cdef int i, st
    for i in range(d.n_in):
        st = ovfast.job_input(d.pool, job, i, &data, &nbytes)
        if st != ovfast.OVFAST_OK:
            return st
        memcpy(data, d.in_base[i] + item * d.in_stride[i], nbytes)
    d.item_of_job[job] = item
    return ovfast.OVFAST_OK


cdef int _collect(drive_t* d, int job) noexcept nogil:
    cdef void* data
    cdef size_t nbytes
    cdef int o, st
    cdef long long item = d.item_of_job[job]
    for o in range(d.n_out):
        st = ovfast.job_output(d.pool, job, o, &data, &nbytes)
        if st != ovfast.OVFAST_OK:
            return st
        memcpy(d.out_base[o] + item * d.out_stride[o], data, nbytes)
    drv_fetch_add(&d.finished, 1)
    return ovfast.OVFAST_OK


cdef void _on_done(void* ctx, int job) noexcept nogil:
    """A job's run is over: collect it, start it on the next item, or hand it back."""
    cdef drive_t* d = <drive_t*>ctx
    cdef long long item
    cdef int st = ovfast.job_wait(d.pool, job, 0)
    if st == ovfast.OVFAST_OK:
        st = _collect(d, job)
    if st == ovfast.OVFAST_OK and not drv_load(&d.failed):
        item = drv_fetch_add(&d.next, 1)
        if item < d.n:
            st = _fill(d, job, item)
            if st == ovfast.OVFAST_OK:
                st = ovfast.job_start(d.pool, job, _on_done, ctx)
            if st == ovfast.OVFAST_OK:
                return
    if st != ovfast.OVFAST_OK:
        _fail(d, st)
    ovfast.job_release(d.pool, job)


cdef drive_t* _setup(object queue, list inputs, list outputs) except NULL:
    cdef drive_t* d = <drive_t*>calloc(1, sizeof(drive_t))
    cdef int jobs
    if d == NULL:
        raise MemoryError()
    d.pool = ovfast.queue_pool(queue)
    ovfast.pool_size(d.pool, &jobs, NULL, NULL)
    d.item_of_job = <long long*>calloc(jobs, sizeof(long long))
    d.n_in, d.n_out = len(inputs), len(outputs)
    d.n = len(inputs[0])
    for i, a in enumerate(inputs):
        d.in_base[i] = <char*>cnp.PyArray_DATA(a)
        d.in_stride[i] = a.nbytes // d.n
    for o, a in enumerate(outputs):
        d.out_base[o] = <char*>cnp.PyArray_DATA(a)
        d.out_stride[o] = a.nbytes // d.n
    return d


cdef object _finish(drive_t* d):
    ovfast.pool_unref(d.pool)
    failed, message = d.failed, d.message.decode("utf-8", "replace")
    free(d.item_of_job)
    free(d)
    if failed:
        raise RuntimeError(f"C driver: status {failed}: {message}")


def run_callbacks(queue, list inputs, list outputs, int in_flight, bint handshake=False):
    """Runs every item (row k of each input array) through `in_flight` jobs started from C; each job's
    completion function collects its output rows and restarts it on the next item. Returns whether a
    Python thread saw the loop run (with handshake)."""
    cdef drive_t* d = _setup(queue, inputs, outputs)
    cdef int k, job, st = 0
    cdef long long item
    cdef bint seen = False
    global _running, _seen
    with nogil:
        _seen = 0
        drv_store(&_running, 1)
        if handshake:
            seen = _wait_for_python(20000)
        for k in range(in_flight):
            item = drv_fetch_add(&d.next, 1)
            if item >= d.n:
                break
            st = ovfast.job_acquire(d.pool, 10000, &job)
            if st == ovfast.OVFAST_OK:
                st = _fill(d, job, item)
                if st == ovfast.OVFAST_OK:
                    st = ovfast.job_start(d.pool, job, _on_done, d)
                if st != ovfast.OVFAST_OK:
                    ovfast.job_release(d.pool, job)
            if st != ovfast.OVFAST_OK:
                _fail(d, st)
                break
        # every job hands itself back from its completion function once no items are left
        while drv_load(&d.finished) < d.n and not drv_load(&d.failed):
            ovfast.wait_all(d.pool, 50)
        ovfast.wait_all(d.pool, -1)
        drv_store(&_running, 0)
    _finish(d)
    return seen


cdef int _hold(ovfast.ovf_pool* pool, int* held, int jobs, int* n_held) noexcept nogil:
    """Takes `jobs` jobs into held[]; the status of the first acquire that failed, if any."""
    cdef int st
    n_held[0] = 0
    while n_held[0] < jobs:
        st = ovfast.job_acquire(pool, 10000, &held[n_held[0]])
        if st != ovfast.OVFAST_OK:
            return st
        n_held[0] += 1
    return ovfast.OVFAST_OK


def run_round_robin(queue, list inputs, list outputs, int jobs):
    """The same items, with no completion function: hold `jobs` jobs, start each, and wait for them in
    turn (job_wait), refilling and restarting as each ends."""
    cdef drive_t* d = _setup(queue, inputs, outputs)
    cdef int* held = <int*>calloc(jobs, sizeof(int))
    cdef int k, n_held = 0, st = 0
    cdef long long item, started = 0, running = 0
    with nogil:
        st = _hold(d.pool, held, jobs, &n_held)
        item = 0
        while st == ovfast.OVFAST_OK and (started < d.n or running):
            k = <int>(item % n_held)
            if item >= n_held:   # this job ran item - n_held
                st = ovfast.job_wait(d.pool, held[k], -1)
                if st == ovfast.OVFAST_OK:
                    st = _collect(d, held[k])
                running -= 1
            if st == ovfast.OVFAST_OK and started < d.n:
                st = _fill(d, held[k], started)
                if st == ovfast.OVFAST_OK:
                    st = ovfast.job_start(d.pool, held[k], NULL, NULL)
                    started += 1
                    running += 1
            item += 1
        if st != ovfast.OVFAST_OK:
            _fail(d, st)
        for k in range(n_held):
            ovfast.job_release(d.pool, held[k])
    free(held)
    _finish(d)


def spin(queue, long long n, int jobs, bint callbacks):
    """n inferences on whatever inputs the jobs hold, as bench/c_ceiling.c's round robin does: with
    completion functions that restart their job (callbacks) or round robin with job_wait."""
    cdef drive_t* d = <drive_t*>calloc(1, sizeof(drive_t))
    cdef int k, st = 0, n_held = 0
    cdef int* held = <int*>calloc(jobs, sizeof(int))
    cdef long long item, started = 0
    d.pool = ovfast.queue_pool(queue)
    d.n = n
    d.item_of_job = <long long*>calloc(jobs + 64, sizeof(long long))
    with nogil:
        st = _hold(d.pool, held, jobs, &n_held)
        if st == ovfast.OVFAST_OK and callbacks:
            for k in range(n_held):
                if drv_fetch_add(&d.next, 1) >= n:
                    ovfast.job_release(d.pool, held[k])
                    continue
                st = ovfast.job_start(d.pool, held[k], _on_done, d)
                if st != ovfast.OVFAST_OK:
                    break
            while drv_load(&d.finished) < n and not drv_load(&d.failed) and st == ovfast.OVFAST_OK:
                ovfast.wait_all(d.pool, 50)
            ovfast.wait_all(d.pool, -1)
        elif st == ovfast.OVFAST_OK:
            for k in range(n_held):
                if started < n:
                    st = ovfast.job_start(d.pool, held[k], NULL, NULL)
                    started += 1
            item = 0
            while st == ovfast.OVFAST_OK and item < n:
                k = <int>(item % n_held)
                st = ovfast.job_wait(d.pool, held[k], -1)
                if st == ovfast.OVFAST_OK and started < n:
                    st = ovfast.job_start(d.pool, held[k], NULL, NULL)
                    started += 1
                item += 1
            for k in range(n_held):
                ovfast.job_release(d.pool, held[k])
        if st != ovfast.OVFAST_OK:
            _fail(d, st)
    free(held)
    _finish(d)


def misuse(queue, compiled, tensor, request):
    """Every kind of wrong call an embedding library could make, from C: (name, status, message) each."""
    cdef ovfast.ovf_pool* pool = ovfast.queue_pool(queue)
    cdef int job = -1, other, jobs
    cdef void* data
    cdef size_t nbytes, n_in, n_out
    cdef float small[3]
    cdef float big[64]
    cdef int64_t dims[2]
    cdef list out = []
    cdef int st

    def record(name, int status):
        out.append((name, status, ovfast.last_error().decode("utf-8", "replace")))

    try:
        handles = (ovfast.compiled_model_handle(compiled) != NULL, ovfast.tensor_handle(tensor) != NULL,
                   ovfast.infer_request_handle(request) != NULL)
        out.append(("handles", all(handles), ""))
        data = ovfast.tensor_data(tensor, &nbytes)
        out.append(("tensor_data", nbytes, ""))
        ovfast.pool_size(pool, &jobs, &n_in, &n_out)
        out.append(("pool_size", (jobs, n_in, n_out), ""))
        record("input of a job not held", ovfast.job_input(pool, 0, 0, &data, &nbytes))
        record("job out of range", ovfast.job_input(pool, jobs, 0, &data, &nbytes))
        record("acquire with no out pointer", ovfast.job_acquire(pool, 0, NULL))
        record("NULL pool", ovfast.job_acquire(NULL, 0, &job))
        st = ovfast.job_acquire(pool, 10000, &job)
        record("acquire", st)
        record("wait before start", ovfast.job_wait(pool, job, 0))
        record("input out of range", ovfast.job_input(pool, job, n_in, &data, &nbytes))
        record("output out of range", ovfast.job_output(pool, job, n_out, &data, &nbytes))
        record("bind too few bytes", ovfast.job_bind(pool, job, False, 0, small, sizeof(small), NULL, 0))
        record("bind too many bytes", ovfast.job_bind(pool, job, False, 0, big, sizeof(big), NULL, 0))
        dims[0], dims[1] = 2, 4
        record("bind a wrong shape", ovfast.job_bind(pool, job, False, 0, big, 8 * sizeof(float), dims, 2))
        record("bind NULL data", ovfast.job_bind(pool, job, False, 0, NULL, 8 * sizeof(float), NULL, 0))
        record("start", ovfast.job_start(pool, job, NULL, NULL))
        record("wait", ovfast.job_wait(pool, job, -1))
        record("release", ovfast.job_release(pool, job))
        record("release twice", ovfast.job_release(pool, job))
        record("start after release", ovfast.job_start(pool, job, NULL, NULL))
    finally:
        ovfast.pool_unref(pool)
    return out


def acquire(queue, int64_t timeout_ms):
    """Takes a job from C and keeps it (for tests of what Python sees meanwhile): (status, job)."""
    cdef ovfast.ovf_pool* pool = ovfast.queue_pool(queue)
    cdef int job = -1, st
    with nogil:
        st = ovfast.job_acquire(pool, timeout_ms, &job)
    ovfast.pool_unref(pool)
    return st, job


def bind_and_release(queue, cnp.ndarray a, cnp.ndarray b):
    """Holds a job, binds a and b (float32[8]) as its inputs, runs it, releases it: the sum, read in C."""
    cdef ovfast.ovf_pool* pool = ovfast.queue_pool(queue)
    cdef int job = -1, st
    cdef void* data
    cdef size_t nbytes
    result = None
    try:
        st = ovfast.job_acquire(pool, 10000, &job)
        if st == ovfast.OVFAST_OK:
            st = ovfast.job_bind(pool, job, False, 0, cnp.PyArray_DATA(a), a.nbytes, NULL, 0)
        if st == ovfast.OVFAST_OK:
            st = ovfast.job_bind(pool, job, False, 1, cnp.PyArray_DATA(b), b.nbytes, NULL, 0)
        if st == ovfast.OVFAST_OK:
            st = ovfast.job_start(pool, job, NULL, NULL)
        if st == ovfast.OVFAST_OK:
            st = ovfast.job_wait(pool, job, -1)
        if st == ovfast.OVFAST_OK:
            st = ovfast.job_output(pool, job, 0, &data, &nbytes)
        if st == ovfast.OVFAST_OK:
            result = (<char*>data)[:nbytes]
        if job >= 0:
            ovfast.job_release(pool, job)
        if st != ovfast.OVFAST_OK:
            raise RuntimeError(f"status {st}: {ovfast.last_error().decode()}")
    finally:
        ovfast.pool_unref(pool)
    return result


def release(queue, int job):
    cdef ovfast.ovf_pool* pool = ovfast.queue_pool(queue)
    cdef int st = ovfast.job_release(pool, job)
    ovfast.pool_unref(pool)
    return st


def check_version(int built_against):
    """ovfast.check_version as an extension built against another version would call it."""
    ovfast.check_version(built_against)


def handle_types(compiled, request, tensor, queue):
    """Each handle getter on its object: raises TypeError for an object of another class."""
    ovfast.compiled_model_handle(compiled)
    ovfast.infer_request_handle(request)
    ovfast.tensor_handle(tensor)
    ovfast.pool_unref(ovfast.queue_pool(queue))


cdef ovfast.ovf_pool* _kept = NULL

def keep_pool(queue):
    """Keeps a reference to the queue's pool in C, past the queue's life."""
    global _kept
    _kept = ovfast.queue_pool(queue)

def acquire_kept():
    """job_acquire on the kept pool: (status, message)."""
    cdef int job = -1
    cdef int st = ovfast.job_acquire(_kept, 0, &job)
    if st == ovfast.OVFAST_OK:
        ovfast.job_release(_kept, job)
    return st, ovfast.last_error().decode()

def drop_kept():
    global _kept
    ovfast.pool_unref(_kept)
    _kept = NULL


ctypedef struct once_t:
    ovfast.ovf_pool* pool
    int status_in_done
    char message[512]

cdef void _record_done(void* ctx, int job) noexcept nogil:
    """How the run ended, as seen from its completion function."""
    cdef once_t* o = <once_t*>ctx
    cdef const char* msg
    cdef size_t k = 0
    o.status_in_done = ovfast.job_wait(o.pool, job, 0)
    if o.status_in_done == ovfast.OVFAST_OK:
        return
    msg = ovfast.last_error()
    while msg[k] and k < 511:
        o.message[k] = msg[k]
        k += 1
    o.message[k] = 0


def run_once(queue, list inputs):
    """One run with every input bound (zero-copy, with its array's shape): (status seen in the completion
    function, its message, status from job_wait, its message, output 0's bytes or None)."""
    cdef once_t o
    cdef int job = -1, st, i
    cdef int64_t dims[8]
    cdef cnp.ndarray a
    cdef void* data
    cdef size_t nbytes
    o.pool = ovfast.queue_pool(queue)
    o.status_in_done = -1
    o.message[0] = 0
    out = None
    try:
        st = ovfast.job_acquire(o.pool, 10000, &job)
        for i, a in enumerate(inputs):
            for k in range(a.ndim):
                dims[k] = a.shape[k]
            if st == ovfast.OVFAST_OK:
                st = ovfast.job_bind(o.pool, job, False, i, cnp.PyArray_DATA(a), a.nbytes, dims, a.ndim)
        if st == ovfast.OVFAST_OK:
            st = ovfast.job_start(o.pool, job, _record_done, &o)
        if st != ovfast.OVFAST_OK:
            raise RuntimeError(f"status {st}: {ovfast.last_error().decode()}")
        with nogil:
            st = ovfast.job_wait(o.pool, job, -1)
            ovfast.wait_all(o.pool, -1)   # _record_done has returned
        message = ovfast.last_error().decode() if st != ovfast.OVFAST_OK else ""
        if st == ovfast.OVFAST_OK and ovfast.job_output(o.pool, job, 0, &data, &nbytes) == ovfast.OVFAST_OK:
            out = (<char*>data)[:nbytes]
        return o.status_in_done, o.message.decode(), st, message, out
    finally:
        if job >= 0:
            ovfast.job_release(o.pool, job)
        ovfast.pool_unref(o.pool)


def run_infer(queue, list inputs):
    """One run on the calling thread (job_infer) with every input bound as run_once binds them: (status, its
    message, output 0's bytes or None)."""
    cdef ovfast.ovf_pool* pool = ovfast.queue_pool(queue)
    cdef int job = -1, st, i
    cdef int64_t dims[8]
    cdef cnp.ndarray a
    cdef void* data
    cdef size_t nbytes
    out = None
    try:
        st = ovfast.job_acquire(pool, 10000, &job)
        for i, a in enumerate(inputs):
            for k in range(a.ndim):
                dims[k] = a.shape[k]
            if st == ovfast.OVFAST_OK:
                st = ovfast.job_bind(pool, job, False, i, cnp.PyArray_DATA(a), a.nbytes, dims, a.ndim)
        if st == ovfast.OVFAST_OK:
            with nogil:
                st = ovfast.job_infer(pool, job)
        message = ovfast.last_error().decode() if st != ovfast.OVFAST_OK else ""
        if st == ovfast.OVFAST_OK and ovfast.job_output(pool, job, 0, &data, &nbytes) == ovfast.OVFAST_OK:
            out = (<char*>data)[:nbytes]
        return st, message, out
    finally:
        if job >= 0:
            ovfast.job_release(pool, job)
        ovfast.pool_unref(pool)


def try_bind(queue, bint output, size_t index, size_t nbytes, dims):
    """Binds nbytes of fresh memory to a port of a held job with dims (None: the port's shape); if that
    is accepted, runs the job once. (bind status, message, run status)."""
    cdef ovfast.ovf_pool* pool = ovfast.queue_pool(queue)
    cdef int job = -1, st, run = -1
    cdef int64_t d[8]
    cdef size_t rank = 0
    cdef void* mem = calloc(nbytes + 1, 1)
    if dims is not None:
        rank = len(dims)
        for k in range(rank):
            d[k] = dims[k]
    try:
        st = ovfast.job_acquire(pool, 10000, &job)
        if st == ovfast.OVFAST_OK:
            st = ovfast.job_bind(pool, job, output, index, mem, nbytes, d if dims is not None else NULL, rank)
            message = ovfast.last_error().decode() if st != ovfast.OVFAST_OK else ""
            if st == ovfast.OVFAST_OK:
                with nogil:
                    run = ovfast.job_start(pool, job, NULL, NULL)
                    if run == ovfast.OVFAST_OK:
                        run = ovfast.job_wait(pool, job, -1)
            ovfast.job_release(pool, job)
        return st, message, run
    finally:
        free(mem)
        ovfast.pool_unref(pool)

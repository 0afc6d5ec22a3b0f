# User callbacks and blocking waits: the callback pump (the one Python thread that runs InferRequest
# callbacks), the one policy for exceptions from any user callback, and the one sliced wait.
#
# OpenVINO calls our C callback on its own thread; taking the GIL there would stall every completion of
# the compiled model behind Python. The C callback only queues the request; the pump takes the GIL once
# per batch of queued completions and runs their Python callbacks.

# Threads that run Python callbacks (the request pump, queue dispatchers) mark themselves here: a wait
# there for more completions would wait for callbacks that only that thread can run.
_callback_thread = threading.local()


cdef bint _in_callback_thread():
    return getattr(_callback_thread, "active", False)


@cython.final
cdef class _CallbackErrors:
    """The one policy for an exception from a user callback, on every path (a request's callback, a queue's
    on its dispatcher thread or on an event loop): the job is released whatever the callback raised, and
    the exception reaches the thread that waits. The first one is kept and raised, once, by the next call
    that waits or starts on that request or queue. KeyboardInterrupt and SystemExit replace an ordinary
    error that is kept, and a wait already under way raises them at its next slice (within 100 ms)."""

    cdef void run(self, object fn, tuple args) noexcept:
        try:
            fn(*args)
        except BaseException as e:
            self.keep(e)

    cdef void keep(self, object e) noexcept:
        urgent = isinstance(e, (KeyboardInterrupt, SystemExit))
        if self.error is None or (urgent and not self.urgent):
            self.error, self.urgent = e, urgent

    cdef int raise_kept(self) except -1:
        err = self.error
        if err is not None:
            self.error, self.urgent = None, False
            raise err
        return 0

    cdef int raise_urgent(self) except -1:
        if self.urgent:
            self.raise_kept()
        return 0


_pump_thread = None
_pump_lock = threading.Lock()
# The requests whose callback the pump has still to run, by their state's address: the pump keeps each
# alive from its start until its callback has run (C only passes the state).
cdef dict _pump_pending = {}


cdef inline void _pump_expect(InferRequest req):
    _pump_pending[<uintptr_t>req.state] = req


cdef inline void _pump_forget(InferRequest req):
    _pump_pending.pop(<uintptr_t>req.state, None)


def _pump_run():
    cdef vector[ovf_request_state*] batch
    cdef ovf_request_state* s
    cdef InferRequest req
    _callback_thread.active = True
    while True:
        with nogil:
            ovf_pump_pop_all(batch, 200)
        for s in batch:
            req = <InferRequest>_pump_pending.pop(<uintptr_t>s)
            req._errors.run(req._callback, (req._userdata,))
            s.holder.store(OVF_IDLE)
            s.settle()
        req = None  # the last request is not kept alive until the next batch
        batch.clear()


def _ensure_pump():
    global _pump_thread
    if _pump_thread is not None:
        return
    with _pump_lock:
        if _pump_thread is None:
            t = threading.Thread(target=_pump_run, name="ovfast-callbacks", daemon=True)
            t.start()
            _pump_thread = t


# A blocking wait sleeps at most this long at a time, to answer Ctrl-C and urgent callback errors.
cdef enum:
    WAIT_SLICE_MS = 100

# What a blocking wait waits for.
cdef enum _WaitFor:
    WAIT_JOB          # an idle job of the pool (`want`, or any); taken unless `take` is false
    WAIT_EVERY_JOB    # every job of the pool, taken (map)
    WAIT_POOL_IDLE    # every job of the pool idle, but those FOREIGN holders hold (wait_all)
    WAIT_SETTLED      # every run of the request settled (its callback included)
    WAIT_INFERENCE    # the request's inference (OpenVINO's wait_for): its status in *st


cdef int _wait_slice(_WaitFor what, ovf_pool* pool, ovf_request_state* s, int want, bint take, int64_t ms,
                     ov_status_e* st) noexcept nogil:
    """One slice of a wait: >= 0 when it is over (the job's id for WAIT_JOB), -1 when not yet."""
    if what == WAIT_JOB:
        return ovf_pool_acquire(pool, want, ms, take)
    if what == WAIT_EVERY_JOB:
        return 0 if ovf_pool_acquire_every(pool, ms) else -1
    if what == WAIT_POOL_IDLE:
        return 0 if ovf_pool_wait_all(pool, ms, False) else -1
    if what == WAIT_SETTLED:
        return 0 if s.wait_settled(ms) else -1
    st[0] = ov_infer_request_wait_for(s.request, ms)
    return -1 if st[0] == RESULT_NOT_READY else 0


cdef int wait_sliced(_WaitFor what, ovf_pool* pool, ovf_request_state* s, int64_t timeout_ms,
                     _CallbackErrors errors, AsyncInferQueue queue=None, int want=-1, bint take=True,
                     ov_status_e* st=NULL) except -2:
    """Waits without the GIL, up to timeout_ms (negative: no limit), in slices of at most 100 ms; between
    slices it raises Ctrl-C (or another signal's exception), a KeyboardInterrupt or SystemExit a callback
    raised meanwhile (errors), and gives back the jobs of a queue's event loop that has closed. The result of the slice that ended it, or -1
    when the time ran out."""
    cdef int64_t left = timeout_ms, ms
    cdef int r
    cdef ov_status_e ignored
    if st == NULL:
        st = &ignored
    while True:
        ms = WAIT_SLICE_MS if left < 0 or left > WAIT_SLICE_MS else left
        with nogil:
            r = _wait_slice(what, pool, s, want, take, ms, st)
        if r >= 0:
            return r
        if left >= 0:
            left -= ms
            if left <= 0:
                return -1
        between_slices(errors, queue)


cdef int between_slices(_CallbackErrors errors, AsyncInferQueue queue) except -1:
    """What a wait does between its slices: raises Ctrl-C (or another signal's exception) and a
    KeyboardInterrupt or SystemExit a callback raised meanwhile, and gives back the jobs of a queue's
    event loop that has closed."""
    cpython.PyErr_CheckSignals()
    if errors is not None:
        errors.raise_urgent()
    if queue is not None:
        queue._reap_async()
    return 0

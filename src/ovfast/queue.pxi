# AsyncInferQueue: openvino's queue of InferRequests ("jobs"), dispatched on the C API without the GIL.
#
# A job's life is _pool.hpp's state machine: a start says who holds the job (ovf_job_start), and its
# completion goes where that holder says (ovf_pool_job_done). With a Python callback a finished job waits
# in `done` until the queue's dispatcher thread takes the GIL once for a batch of them. Whole batches (map,
# imap) are in batches.pxi, the asyncio side (infer_async, aimap) in aio.pxi: each holds jobs through the
# same calls an outside holder would use.

cdef class _PoolHandle:
    """The queue's reference to the C pool; shared with its dispatcher thread. Each job holds a reference
    of its own in C, so the pool outlives the last of them."""

    def __dealloc__(self):
        if self.pool != NULL:
            ovf_pool_unref(self.pool)
            self.pool = NULL


def _dispatch_run(_PoolHandle h, queue_ref):
    cdef vector[int] batch
    _callback_thread.active = True
    while True:
        # One GIL release per batch: the jobs whose callbacks have run go back to idle, then the next batch
        # is waited for. Woken by that release, a submitter finds the GIL free.
        with nogil:
            if batch.size():
                ovf_pool_delivered(h.pool, batch)
                batch.clear()
            ovf_pool_take_done(h.pool, batch, 100)
        if batch.size() == 0:
            if h.closing:
                return
            continue
        queue = queue_ref()
        if queue is not None:  # else the queue is being freed: it settles these jobs (ovf_pool_close)
            (<AsyncInferQueue>queue)._run_callbacks(batch)
            queue = None


@cython.no_gc_clear  # __dealloc__ needs `h` and `_jobs` to settle the jobs
cdef class AsyncInferQueue:
    """openvino.AsyncInferQueue's API, plus map(), imap(), infer_async() and aimap()."""

    def __init__(self, CompiledModel model, int jobs=0):
        if jobs < 0:
            raise _exc.InputValueTypeError(f"jobs must be >= 0 (0: the model's optimal number), got {jobs}")
        if jobs == 0:
            jobs = int(model.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
        self.cm = model
        self.h = _PoolHandle.__new__(_PoolHandle)
        self.h.pool = ovf_pool_new()
        self._errors = _CallbackErrors.__new__(_CallbackErrors)
        self._jobs = []
        for port in model._inputs + model._outputs:
            _describe_port(self.h.pool, <ConstOutput>port)
        for _ in range(jobs):
            req = make_request(model)
            ovf_pool_add_job(self.h.pool, (<InferRequest>req).state)
            self._jobs.append(req)
        self._userdata = [None] * jobs
        self._imap_held = {}

    def __dealloc__(self):
        cdef vector[int] foreign
        if self.h is None or self.h.pool == NULL:
            return
        if self._aio is not None:
            (<_AsyncBridge>self._aio).stop_watching()
        # Possibly at interpreter exit, with the dispatcher gone: the pool waits for the inferences, never
        # for Python, and settles every job without its callback (infer_async results are dropped).
        with nogil:
            foreign = ovf_pool_close(self.h.pool)
        for id in foreign:
            # C code still holds this job and may write into its request's memory: the request stays.
            cpython.Py_INCREF(self._jobs[id])
        self.h.closing = True

    def __len__(self):
        return len(self._jobs)

    def __getitem__(self, int i):
        if not 0 <= i < len(self._jobs):
            raise IndexError(f"job {i} out of range: the queue has {len(self._jobs)} jobs")
        return self._jobs[i]

    def __iter__(self):
        return iter(self._jobs)

    @property
    def userdata(self):
        return list(self._userdata)

    # --- callbacks ------------------------------------------------------------------------------------

    def set_callback(self, callback):
        """callback(request, userdata) runs once per finished job, with the GIL, before the job is reused.
        What it raises is raised by the next start_async() or wait_all() (see _CallbackErrors)."""
        if callback is not None and not callable(callback):
            raise TypeError(f"callback must be callable, got {type(callback).__name__}")
        self._callback = callback
        self.h.pool.python_callbacks = callback is not None  # for a job started directly (queue[i].start_async)
        if callback is not None and self._dispatcher is None:
            self._dispatcher = threading.Thread(target=_dispatch_run, args=(self.h, weakref.ref(self)),
                                                name="ovfast-queue-dispatcher", daemon=True)
            self._dispatcher.start()

    cdef _run_callbacks(self, vector[int]& batch):
        """Each job's callback, for a batch of finished jobs taken from the pool (the caller then gives
        them back with ovf_pool_delivered). One thread at a time: the pool hands out one batch at once."""
        cdef int id
        callback = self._callback
        if callback is not None:
            self._delivering = _thread.get_ident()
            for id in batch:
                self._errors.run(callback, (self._jobs[id], self._userdata[id]))
            self._delivering = None

    cdef _deliver_here(self, vector[int]& batch):
        """A batch run by a submitting thread instead of the dispatcher; a callback sees the same thread
        rules as on the dispatcher (it may not wait for the queue)."""
        was_callback_thread = _in_callback_thread()
        _callback_thread.active = True
        try:
            self._run_callbacks(batch)
        finally:
            _callback_thread.active = was_callback_thread
            ovf_pool_delivered(self.h.pool, batch)

    # --- jobs -------------------------------------------------------------------------------------------

    cdef int _acquire(self, int want, bint take=True) except -1:
        """Takes an idle job (job `want` if >= 0; with take=False only names it), waiting without the GIL;
        Ctrl-C interrupts."""
        cdef int id
        if self._imap_held and self._imap_held.get(_thread.get_ident(), 0) == len(self._jobs):
            raise RuntimeError("this thread's imap() holds every job of the queue until its loop ends: "
                               "waiting for an idle job inside that loop would wait forever; use another "
                               "queue, or collect the items and submit them after the loop")
        # The pool's calls that cannot wait (taking an idle job, a start, a release) keep the GIL: dropping
        # it hands it to the dispatcher mid-batch, a wake-up per call for both threads. The pool's lock is
        # never held by code that needs the GIL. Naming a job (take=False) waits for OpenVINO's promise.
        if take:
            id = ovf_pool_acquire(self.h.pool, want, 0, True)
        else:
            with nogil:
                id = ovf_pool_acquire(self.h.pool, want, 0, False)
        if id >= 0:
            return id
        self._refuse_blocking_the_loop("waiting for an idle job")
        if self._delivering is not None and self._delivering == _thread.get_ident():
            raise RuntimeError("start_async from a queue callback found no idle job: it would wait for "
                               "callbacks that cannot run until this one returns")
        if take and want < 0 and self._callback is not None and not _in_callback_thread():
            return self._acquire_delivering()
        return wait_sliced(WAIT_JOB, self.h.pool, NULL, -1, self._errors, self, want, take)

    cdef int _acquire_delivering(self) except -1:
        """start_async's wait when the queue has a Python callback: while no job is idle, this thread runs
        the callbacks of finished jobs itself (ovf_pool_acquire_or_deliver) rather than sleep until the
        dispatcher has run them; the waits between are wait_sliced's slices."""
        cdef vector[int] batch
        cdef int id
        while True:
            with nogil:
                id = ovf_pool_acquire_or_deliver(self.h.pool, WAIT_SLICE_MS, batch)
            if id >= 0:
                return id
            if id == -2:
                self._deliver_here(batch)
                batch.clear()
                self._errors.raise_urgent()
            else:
                between_slices(self._errors, self)

    cdef int _refuse_waiting_for_all(self, str what) except -1:
        """wait_all, map and imap wait until every job is idle; from a callback, or inside this thread's
        own imap() loop, that wait would never end."""
        if _in_callback_thread():
            raise RuntimeError(f"{what} from a callback would wait for completions whose callbacks cannot run "
                               f"until this one returns; call it outside the callback")
        if self._imap_held and self._imap_held.get(_thread.get_ident(), 0) > 0:
            raise RuntimeError(f"{what} inside this thread's imap() loop would wait for the jobs imap holds "
                               f"until the loop ends")
        self._refuse_blocking_the_loop(what)
        return 0

    cdef int _refuse_blocking_the_loop(self, str what) except -1:
        if self._aio is not None:
            (<_AsyncBridge>self._aio).refuse_blocking(what)
        return 0

    cdef _reap_async(self):
        if self._aio is not None:
            (<_AsyncBridge>self._aio).reap()

    cdef _give_back(self, int id):
        cdef vector[int] ids
        ids.push_back(id)
        ovf_pool_release(self.h.pool, ids, False)

    cdef int _check_job(self, int id) except -1:
        """Raises the failure of job id's last run, once."""
        cdef InferRequest req = <InferRequest>self._jobs[id]
        cdef ov_status_e st
        cdef int status = 0
        cdef string message
        cdef ovf_report what = ovf_job_to_report(req.state, &status, &message)
        if what == OVF_REPORT_DEFERRED:  # a failure of ours found when another holder took the job
            raise failure(status, message.decode("utf-8", "replace"), f"job {id}")
        if what != OVF_REPORT_WAIT:  # nothing new, or another holder's (its runs are reported to it)
            return 0
        if req.state.is_running():
            with nogil:
                st = ov_infer_request_wait(req.req)
            check_ctx(st, f"job {id}")
            return 0
        # Over: our completion recorded how it ended. Asking ov_infer_request_wait instead would sleep until
        # OpenVINO's callback thread has left our callback and fulfilled the run's promise, a second wake-up
        # per request after the one that handed us the job.
        if req.state.run_status != OK:
            raise failure(req.state.run_status, req.state.run_message.decode("utf-8", "replace"), f"job {id}")
        return 0

    cdef int _fill(self, int id, object inputs, bint share_inputs) except -1:
        """Reports the last run of job id (which the caller took) and sets its inputs; on any failure the
        job goes back to idle."""
        cdef InferRequest req = <InferRequest>self._jobs[id]
        try:
            self._check_job(id)
            set_inputs(req.inputs, inputs, self.cm._in_names, share_inputs)
        except BaseException:
            self._give_back(id)
            raise
        return 0

    cdef int _start(self, int id, int holder, bint keep=False) except -1:
        """Starts job id (taken, inputs set) for `holder`; a start OpenVINO refuses gives the job back,
        unless the holder keeps it (it gives it back when it lets go of it)."""
        cdef InferRequest req = <InferRequest>self._jobs[id]
        cdef ov_status_e st
        st = ovf_job_start(req.state, holder)  # queues the run: OpenVINO's start does not wait
        if st != OK:
            req.state.checked = req.state.started.load()
            if not keep:
                self._give_back(id)
            check_ctx(st, f"starting job {id}")
        return 0

    def start_async(self, inputs=None, userdata=None, bint share_inputs=False):
        """Waits (without the GIL) for an idle job, sets its inputs and starts it."""
        self._errors.raise_kept()
        cdef int id = self._acquire(-1)
        self._fill(id, inputs, share_inputs)
        self._userdata[id] = userdata
        self._start(id, OVF_QUEUE_CALLBACK if self._callback is not None else OVF_QUEUE)

    def wait_all(self):
        """Waits (without the GIL) until every job is idle (but those C code holds through ovfast's C API,
        which are busy for Python until it hands them back); then raises a pending callback error, once."""
        self._refuse_waiting_for_all("wait_all()")
        wait_sliced(WAIT_POOL_IDLE, self.h.pool, NULL, -1, self._errors, self)
        for id in range(len(self._jobs)):
            self._check_job(id)
        self._errors.raise_kept()

    def is_ready(self):
        self._errors.raise_kept()
        return ovf_pool_peek_idle(self.h.pool) >= 0

    def get_idle_request_id(self):
        """The id of an idle job, waiting for one if none is: the job the next start_async() starts (when
        no other thread takes it first), so inputs set on queue[id] meanwhile are that run's."""
        self._errors.raise_kept()
        return self._acquire(-1, False)

    # --- whole batches (batches.pxi) and asyncio (aio.pxi) -------------------------------------------------

    def map(self, inputs, outputs=None):
        """Runs every item of a batch: inputs as infer() takes them, each array with a leading item axis
        ``(N, *port_shape)``, or ``(N, *port_shape[1:])`` for ports whose first dim is 1. Returns an OVDict of
        ``(N, *output_shape)`` arrays (or fills the caller's ``outputs``). The per-item loop runs without the GIL;
        item i reads slice i of the inputs and writes slice i of the outputs. The queue's callback is not
        called for map's items; other threads' start_async waits until map returns."""
        self._errors.raise_kept()
        self._refuse_waiting_for_all("map()")
        return _map(self, _MapPlan(self.cm, inputs, outputs))

    def imap(self, iterable, bint share_inputs=False):
        """Yields the result of each item of `iterable` (anything infer() takes), in order, while keeping
        every job busy. Each result is an OVDict of fresh arrays, the caller's to keep.

        imap holds the jobs it runs from start to result (a finished job is not idle until imap has read
        it), so work submitted to the queue meanwhile never lands on, or reads, an imap job."""
        return _imap(self, iterable, share_inputs)

    def infer_async(self, inputs=None, userdata=None, bint share_inputs=False):
        """Inference to await from a coroutine: `result = await queue.infer_async(inputs)`. Starts on an
        idle job, or (none idle) queues until one is, without blocking the event loop, and returns an
        asyncio.Future of the result dict (fresh arrays, yours to keep) or of the run's error (wrong inputs
        included). Queued inputs are read when their job starts. Cancelling the future (or the awaiting
        task) is safe: a queued call never starts, a started one finishes with its result dropped, and
        the job is reused. The queue's callback, if set, runs for each finished call (on the loop's
        thread), with userdata."""
        return (<_AsyncBridge>self._bridge(asyncio.get_running_loop())).submit(inputs, userdata, share_inputs)

    def aimap(self, items, bint share_inputs=False):
        """Yields the result of each item of `items` (an iterable or an async iterable of anything infer()
        takes), in order, keeping every job busy; no more than len(queue) items run ahead of the consumer."""
        return _aimap(self, items, share_inputs)

    cdef object _bridge(self, object loop):
        """The asyncio side for `loop` (made on first use)."""
        if self._aio is None:
            self._aio = _AsyncBridge(self)
        (<_AsyncBridge>self._aio).bind(loop)
        return <_AsyncBridge>self._aio

    def _async_stats(self):
        """(event-loop wake-ups, infer_async completions delivered): how well completions batch."""
        if self._aio is None:
            return 0, 0
        return (<_AsyncBridge>self._aio).wakeups, (<_AsyncBridge>self._aio).completions

    def __repr__(self):
        return f"<AsyncInferQueue: {len(self._jobs)} jobs>"


cdef _describe_port(ovf_pool* pool, ConstOutput port):
    """Tells the pool about a port of its model, for the C API's checks of memory bound to it."""
    cdef vector[int64_t] dims
    if not port.dynamic:
        dims = port.dims
    elif port.rank >= 0:  # per dimension: its length, or -1 where it is dynamic
        dims = [d.get_length() if d.is_static else -1 for d in port.partial_shape]
    bits = _BITS_OF_C[<int>port.ctype]
    label = f"'{port._any_name}' ({port._label()})".encode("utf-8", "replace")
    ovf_pool_add_port(pool, not port.is_input, port.ctype, port.dynamic, port.rank, dims,
                      port.nbytes if not port.dynamic else 0, bits, label)



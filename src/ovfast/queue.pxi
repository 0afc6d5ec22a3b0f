# AsyncInferQueue: a pool of InferRequests ("jobs") whose dispatch runs on the C API without the GIL.
#
# A finished job goes back to idle on OpenVINO's callback thread (ovf_pool_job_done in _bridge.hpp). With
# a Python callback it waits in `done` until the queue's dispatcher thread takes the GIL once for a batch of
# them. map() runs its whole per-item loop without the GIL; imap() keeps every job busy and yields in order.

cdef class _PoolHandle:
    """The queue's reference to the C pool; shared with its dispatcher thread. Each job holds a reference
    of its own in C, so the pool outlives the last of them."""

    def __dealloc__(self):
        if self.pool != NULL:
            ovf_pool_unref(self.pool)
            self.pool = NULL


# Threads that run Python callbacks (the request pump, queue dispatchers) mark themselves here: a wait
# there for more completions would wait for callbacks that only that thread can run.
_callback_thread = threading.local()


cdef bint _in_callback_thread():
    return getattr(_callback_thread, "active", False)


def _dispatch_run(_PoolHandle h, queue_ref):
    cdef vector[int] batch
    _callback_thread.active = True
    while True:
        with nogil:
            ovf_pool_take_done(h.pool, batch, 100)
        if batch.size() == 0:
            if h.closing:
                return
            continue
        queue = queue_ref()
        if queue is None:  # the queue is being dropped: finish the jobs without their callbacks
            with nogil:
                ovf_pool_release(h.pool, batch, True)
        else:
            (<AsyncInferQueue>queue)._deliver(batch)
            queue = None
        batch.clear()


@cython.no_gc_clear  # __dealloc__ needs `h` to hand the jobs back as plain requests
cdef class AsyncInferQueue:
    """openvino.AsyncInferQueue's API, plus map() and imap()."""

    def __init__(self, CompiledModel model, int jobs=0):
        if jobs < 0:
            raise _exc.InputValueTypeError(f"jobs must be >= 0 (0: the model's optimal number), got {jobs}")
        if jobs == 0:
            jobs = int(model.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
        self.cm = model
        self.h = _PoolHandle.__new__(_PoolHandle)
        self.h.pool = ovf_pool_new()
        self._jobs = []
        for port in model._inputs + model._outputs:
            _describe_port(self.h.pool, <ConstOutput>port)
        for _ in range(jobs):
            req = make_request(model)
            ovf_pool_add_job(self.h.pool, (<InferRequest>req).state)
            self._jobs.append(req)
        self._userdata = [None] * jobs
        self._imap_held = {}
        self._afutures = [None] * jobs
        self._afifo = collections.deque()

    def __dealloc__(self):
        if self.h is None or self.h.pool == NULL:
            return
        if self._aloop is not None:
            _stop_watching(self._aloop, self.h.pool)
        # Jobs in flight finish first; their callbacks are skipped and infer_async results dropped (the
        # queue is going away).
        with nogil:
            while not ovf_pool_wait_all(self.h.pool, 100, True):  # C code's jobs too: they are ours
                ovf_pool_async_abandon(self.h.pool)
            ovf_pool_detach(self.h.pool)  # jobs still referenced elsewhere live on as plain requests
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
        """callback(request, userdata) runs once per finished job, with the GIL, before the job is reused."""
        if callback is not None and not callable(callback):
            raise TypeError(f"callback must be callable, got {type(callback).__name__}")
        self._callback = callback
        self.h.pool.python_callbacks = callback is not None  # for a job started directly (queue[i].start_async)
        if callback is not None and self._dispatcher is None:
            self._dispatcher = threading.Thread(target=_dispatch_run, args=(self.h, weakref.ref(self)),
                                                name="ovfast-queue-dispatcher", daemon=True)
            self._dispatcher.start()

    cdef _deliver(self, vector[int]& batch):
        cdef int id
        callback = self._callback
        for id in batch:
            if callback is None:
                continue
            try:
                callback(self._jobs[id], self._userdata[id])
            except (KeyboardInterrupt, SystemExit):
                _thread.interrupt_main()
            except BaseException as e:
                if self._callback_error is None:
                    self._callback_error = e
        with nogil:
            ovf_pool_release(self.h.pool, batch, True)

    cdef _raise_pending(self):
        err = self._callback_error
        if err is not None:
            self._callback_error = None
            raise err

    # --- jobs -------------------------------------------------------------------------------------------

    cdef int _acquire(self, int want, bint take=True) except -1:
        """Takes an idle job (job `want` if >= 0; with take=False only names it), waiting without the GIL;
        Ctrl-C interrupts."""
        cdef int id
        if self._imap_held and self._imap_held.get(_thread.get_ident(), 0) == len(self._jobs):
            raise RuntimeError("this thread's imap() holds every job of the queue until its loop ends: "
                               "waiting for an idle job inside that loop would wait forever; use another "
                               "queue, or collect the items and submit them after the loop")
        with nogil:
            id = ovf_pool_acquire(self.h.pool, want, 0, take)
        if id < 0:
            self._refuse_blocking_the_loop("waiting for an idle job")
        while id < 0:
            self._reap_async()
            with nogil:
                id = ovf_pool_acquire(self.h.pool, want, 100, take)
            if id >= 0:
                break
            cpython.PyErr_CheckSignals()
            if threading.current_thread() is self._dispatcher:
                raise RuntimeError("start_async from a queue callback found no idle job: it would wait for "
                                   "callbacks that cannot run until this one returns")
            with nogil:
                id = ovf_pool_acquire(self.h.pool, want, 100, take)
        return id

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

    cdef _give_back(self, int id):
        cdef vector[int] ids
        ids.push_back(id)
        with nogil:
            ovf_pool_release(self.h.pool, ids, False)

    cdef int _check_job(self, int id) except -1:
        """Raises the failure of job id's last run, once."""
        cdef InferRequest req = <InferRequest>self._jobs[id]
        cdef ov_status_e st
        cdef int status = 0
        cdef string message
        cdef int what = ovf_job_to_report(req.state, &status, &message)
        if what == 2:  # a failure of ours found when C code took the job
            raise _exc.from_status(status, f"job {id} failed: {message.decode('utf-8', 'replace').strip()}")
        if what != 3:  # nothing new, or C code's (api.job_acquire): its runs are reported to it
            return 0
        with nogil:
            st = ov_infer_request_wait(req.req)
        check_ctx(st, f"job {id}")
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

    cdef int _start(self, int id, bint python_callback, bint held=False) except -1:
        cdef InferRequest req = <InferRequest>self._jobs[id]
        cdef ov_status_e st
        req.state.python_callback.store(python_callback)
        req.state.started.fetch_add(1)
        req._async_ran = True  # before the start: the callback may run (and read latency) before we return
        with nogil:
            req.state.t_start_ns = ovf_now_ns()
            st = ov_infer_request_start_async(req.req)
        if st != OK:
            req.state.python_callback.store(False)
            req.state.abandon()
            req.state.checked = req.state.started.load()
            if not held:  # a held job goes back when its holder lets go of it
                self._give_back(id)
            check_ctx(st, f"starting job {id}")
        return 0

    def start_async(self, inputs=None, userdata=None, bint share_inputs=False):
        """Waits (without the GIL) for an idle job, sets its inputs and starts it."""
        self._raise_pending()
        cdef int id = self._acquire(-1)
        self._fill(id, inputs, share_inputs)
        self._userdata[id] = userdata
        self._start(id, self._callback is not None)

    def wait_all(self):
        """Waits (without the GIL) until every job is idle (but those C code holds through ovfast's C API,
        which are busy for Python until it hands them back); then raises a pending callback error, once."""
        cdef bint done = False
        self._refuse_waiting_for_all("wait_all()")
        while not done:
            with nogil:
                done = ovf_pool_wait_all(self.h.pool, 100, False)
            if not done:
                cpython.PyErr_CheckSignals()
                self._reap_async()
        for id in range(len(self._jobs)):
            self._check_job(id)
        self._raise_pending()

    def is_ready(self):
        self._raise_pending()
        return ovf_pool_peek_idle(self.h.pool) >= 0

    def get_idle_request_id(self):
        """The id of an idle job, waiting for one if none is: the job the next start_async() starts (when
        no other thread takes it first), so inputs set on queue[id] meanwhile are that run's."""
        self._raise_pending()
        return self._acquire(-1, False)

    # --- whole batches ----------------------------------------------------------------------------------

    def map(self, inputs, outputs=None):
        """Runs every item of a batch: inputs as infer() takes them, each array with a leading item axis
        (N, *port_shape), or (N, *port_shape[1:]) for ports whose first dim is 1. Returns an OVDict of
        (N, *output_shape) arrays (or fills the caller's `outputs`). The per-item loop runs without the GIL;
        item i reads slice i of the inputs and writes slice i of the outputs. The queue's callback is not
        called for map's items; other threads' start_async waits until map returns."""
        self._raise_pending()
        self._refuse_waiting_for_all("map()")
        plan = _MapPlan(self.cm, inputs, outputs)
        cdef Py_ssize_t n_items = plan.n
        cdef int n_jobs = len(self._jobs)
        cdef int id
        cdef Py_ssize_t item = 0
        cdef ov_status_e st = OK, job_st
        cdef Py_ssize_t failed_item = -1
        cdef int failed_job = -1
        cdef bint interrupted = False
        cdef int64_t next_poll
        cdef vector[ov_infer_request_t*] reqs
        cdef vector[Py_ssize_t] running = vector[Py_ssize_t](n_jobs, -1)  # the item each job runs, or -1
        cdef vector[int] every
        for id in range(n_jobs):
            reqs.push_back((<InferRequest>self._jobs[id]).req)
            every.push_back(id)
        self.wait_all()
        self._take_every_job()
        try:
            for id in range(n_jobs):
                self._check_job(id)   # a run another thread started between wait_all and here
            saved = _BoundTensors(self._jobs, len(self.cm._inputs), len(self.cm._outputs))
            try:
                # The jobs run round robin, each read with wait: no completion callback is needed, and
                # without one OpenVINO's callback thread does no work of ours per item.
                for id in range(n_jobs):
                    if not ovf_request_drop_callback(reqs[id]):
                        raise RuntimeError(f"map: OpenVINO refused to take the completion callback off job {id}")
                plan.attach(reqs)
                with nogil:
                    next_poll = ovf_now_ns() + MAP_POLL_NS
                    while item < n_items:
                        id = <int>(item % n_jobs)
                        # Ctrl-C is looked for by the clock, not by waiting with a timeout: a timed wait
                        # costs 2-8% of the rate on small models (measured in C, round robin, 16 jobs).
                        if ovf_now_ns() >= next_poll:
                            if plan.poll_signals():
                                interrupted = True
                                break
                            next_poll = ovf_now_ns() + MAP_POLL_NS
                        if running[id] >= 0:
                            st = ov_infer_request_wait(reqs[id])
                            if st != OK:
                                failed_item, failed_job = running[id], id
                                running[id] = -1
                                break
                            plan.collect(id, running[id])
                            running[id] = -1
                        st = plan.bind(reqs[id], id, item)
                        if st == OK:
                            st = ov_infer_request_start_async(reqs[id])
                        if st != OK:
                            failed_item, failed_job = item, id
                            break
                        running[id] = item
                        item += 1
                    # the items still running: finished, read, and (if all went well) collected
                    for id in range(n_jobs):
                        if running[id] < 0:
                            continue
                        job_st = ov_infer_request_wait(reqs[id])
                        if job_st != OK and st == OK and not interrupted:
                            st, failed_item, failed_job = job_st, running[id], id
                        elif job_st == OK:
                            plan.collect(id, running[id])
                if st != OK:
                    check_ctx(st, f"map: item {failed_item} (job {failed_job})")
                if interrupted:
                    raise plan.interrupt
            finally:
                for id in range(n_jobs):
                    if not ovf_request_set_callback(reqs[id], (<InferRequest>self._jobs[id]).state):
                        raise RuntimeError(f"map: OpenVINO refused to give job {id} its completion callback back")
                saved.restore()
        finally:
            with nogil:
                ovf_pool_release(self.h.pool, every, False)
        return plan.result()

    cdef _take_every_job(self):
        """Waits (without the GIL; Ctrl-C interrupts) until this thread holds every job."""
        cdef bint took = False
        while not took:
            with nogil:
                took = ovf_pool_acquire_every(self.h.pool, 100)
            if not took:
                cpython.PyErr_CheckSignals()
                self._reap_async()

    def imap(self, iterable, bint share_inputs=False):
        """Yields the result of each item of `iterable` (anything infer() takes), in order, while keeping
        every job busy. Each result is an OVDict of fresh arrays, the caller's to keep.

        imap holds the jobs it runs from start to result (a finished job is not idle until imap has read
        it), so work submitted to the queue meanwhile never lands on, or reads, an imap job."""
        self._raise_pending()
        self._refuse_waiting_for_all("imap()")
        self.wait_all()
        cdef int n_jobs = len(self._jobs)
        cdef int id
        cdef InferRequest req
        me = _thread.get_ident()
        pending = collections.deque()   # (job id, item index), oldest first
        held = []                       # the jobs this imap holds
        try:
            for index, item in enumerate(iterable):
                if len(held) < n_jobs:
                    id = self._acquire(-1)
                    (<InferRequest>self._jobs[id]).state.held.store(True)
                    held.append(id)
                    self._imap_held[me] = self._imap_held.get(me, 0) + 1
                    result = None
                else:
                    id, done_index = pending.popleft()
                    result = self._held_result(id, done_index)
                req = <InferRequest>self._jobs[id]
                set_inputs(req.inputs, item, self.cm._in_names, share_inputs)
                self._start(id, False, True)
                pending.append((id, index))
                if result is not None:
                    yield result
            while pending:
                id, index = pending.popleft()
                yield self._held_result(id, index)
        finally:
            # done, failed or abandoned: the jobs finish what they run, then go back to the queue
            for id in held:
                req = <InferRequest>self._jobs[id]
                with nogil:
                    ov_infer_request_wait(req.req)
                    req.state.wait_settled(-1)
                req.state.checked = req.state.started.load()
                self._give_back(id)
            if held:
                left = self._imap_held[me] - len(held)
                if left:
                    self._imap_held[me] = left
                else:
                    del self._imap_held[me]

    cdef OVDict _held_result(self, int id, Py_ssize_t index):
        """The result of item `index`, which job `id` (held by imap) ran."""
        cdef InferRequest req = <InferRequest>self._jobs[id]
        cdef ov_status_e st
        with nogil:
            st = ov_infer_request_wait(req.req)
            req.state.wait_settled(-1)
        req.state.checked = req.state.started.load()
        check_ctx(st, f"imap: item {index} (job {id})")
        return req._results(False)

    # --- asyncio ----------------------------------------------------------------------------------------

    def infer_async(self, inputs=None, userdata=None, bint share_inputs=False):
        """Inference to await from a coroutine: `result = await queue.infer_async(inputs)`. Starts on an
        idle job, or (none idle) queues until one is, without blocking the event loop, and returns an
        asyncio.Future of the result dict (fresh arrays, yours to keep) or of the run's error (wrong inputs
        included). Queued inputs are read when their job starts. Cancelling the future (or the awaiting
        task) is safe: a queued call never starts, a started one finishes with its result dropped, and
        the job is reused. The queue's callback, if set, runs for each finished call (on the loop's
        thread), with userdata."""
        return self._submit_async(asyncio.get_running_loop(), inputs, userdata, share_inputs)

    async def aimap(self, items, bint share_inputs=False):
        """Yields the result of each item of `items` (an iterable or an async iterable of anything infer()
        takes), in order, keeping every job busy; no more than len(queue) items run ahead of the consumer."""
        loop = asyncio.get_running_loop()
        pending = collections.deque()
        cdef Py_ssize_t ahead = max(len(self._jobs), 1)
        try:
            if hasattr(items, "__aiter__"):
                async for item in items:
                    if len(pending) >= ahead:
                        yield await pending.popleft()
                    pending.append(self._submit_async(loop, item, None, share_inputs))
            else:
                for item in items:
                    if len(pending) >= ahead:
                        yield await pending.popleft()
                    pending.append(self._submit_async(loop, item, None, share_inputs))
            while pending:
                yield await pending.popleft()
        finally:
            for fut in pending:  # abandoned: queued items never start, started ones finish unread
                fut.cancel()

    cdef object _submit_async(self, object loop, object inputs, object userdata, bint share_inputs):
        """The future of an infer_async call: started now on an idle job, or queued (in order) for the
        next job our completions free."""
        self._raise_pending()
        if self._aloop is not loop:
            self._bind_loop(loop)
        fut = loop.create_future()
        if not self._afifo:
            id = ovf_pool_acquire(self.h.pool, -1, 0, True)
            if id >= 0:
                try:
                    self._start_async_job(id, fut, inputs, userdata, share_inputs)
                except (KeyboardInterrupt, SystemExit):
                    raise
                except BaseException as e:  # wrong inputs: raised where the future is awaited
                    fut.set_exception(e)
                return fut
        self._afifo.append((fut, inputs, userdata, share_inputs))
        if self._poke is None:
            self._poke = loop.call_later(ASYNC_POKE_S, _poke_async, weakref.ref(self))
        return fut

    cdef _start_async_job(self, int id, object fut, object inputs, object userdata, bint share_inputs):
        cdef InferRequest req = <InferRequest>self._jobs[id]
        self._fill(id, inputs, share_inputs)
        self._afutures[id] = fut
        self._userdata[id] = userdata
        req.state.held.store(True)       # it settles into async_ready, not idle: our loop reads it first
        req.state.async_job.store(True)
        try:
            self._start(id, False, True)
        except BaseException:
            self._afutures[id] = None
            self._give_back(id)
            raise

    def _async_stats(self):
        """(event-loop wake-ups, infer_async completions delivered): how well completions batch."""
        return self._async_wakeups, self._async_completions

    cdef _start_queued(self):
        """Starts queued infer_async calls on the idle jobs there are."""
        cdef int id
        fifo = self._afifo
        while fifo:
            fut, inputs, userdata, share = fifo[0]
            if fut.done():  # cancelled while queued
                fifo.popleft()
                continue
            id = ovf_pool_acquire(self.h.pool, -1, 0, True)
            if id < 0:
                return
            fifo.popleft()
            try:
                self._start_async_job(id, fut, inputs, userdata, share)
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException as e:  # wrong inputs: the awaiting task's error
                fut.set_exception(e)

    cdef int _bind_loop(self, object loop) except -1:
        """Makes `loop` the one this queue's infer_async completions go to, watching the pool's eventfd."""
        if self._aloop is not None and not self._aloop.is_closed():
            raise RuntimeError("this AsyncInferQueue delivers to another event loop that is still open; give "
                               "each event loop (each thread) a queue of its own")
        self._reap_async()  # what a closed loop left
        fd = ovf_pool_async_fd(self.h.pool)
        if fd < 0:
            raise OSError("infer_async: the system refused an eventfd for the queue's completions")
        loop.add_reader(fd, _async_drain, self.h, weakref.ref(self))
        self._aloop = loop
        self._poke = None  # a closed loop's timer never fires
        _async_drain(self.h, weakref.ref(self))  # completions that arrived meanwhile (their futures are gone)
        return 0

    cdef _async_deliver(self, vector[int]& batch):
        """On the loop's thread: the results of finished infer_async runs to their futures, the queue's
        callback run for each, and the jobs back to idle."""
        cdef int id
        cdef InferRequest req
        cdef list settle = []
        cdef list futures = self._afutures
        callback = self._callback
        for id in batch:
            req = <InferRequest>self._jobs[id]
            fut = futures[id]
            futures[id] = None
            wanted = fut is not None and not fut.done()
            if wanted:
                if req.state.run_status != OK:
                    outcome = _exc.from_status(req.state.run_status, f"infer_async: job {id} failed: "
                                               f"{req.state.run_message.decode('utf-8', 'replace').strip()}")
                else:
                    try:
                        outcome = req._results(False)
                    except BaseException as e:
                        outcome = e
                settle.append(fut)
                settle.append(outcome)
            if callback is not None:
                try:
                    callback(req, self._userdata[id])
                except (KeyboardInterrupt, SystemExit):
                    raise
                except BaseException as e:
                    if self._callback_error is None:
                        self._callback_error = e
            req.state.checked = req.state.started.load()  # reported here, not by the queue later
        with nogil:
            ovf_pool_release(self.h.pool, batch, False)
        if self._afifo:
            self._start_queued()
        for k in range(0, len(settle), 2):
            fut, outcome = settle[k], settle[k + 1]
            if isinstance(outcome, BaseException):
                fut.set_exception(outcome)
            else:
                fut.set_result(outcome)

    cdef _reap_async(self):
        """Jobs of an event loop that is closed go back to idle, their results dropped; those still running
        go back when they finish (here or in the next loop's reader)."""
        cdef Py_ssize_t id
        if self._aloop is None or not self._aloop.is_closed():
            return
        for id in range(len(self._afutures)):
            self._afutures[id] = None
        self._afifo.clear()
        with nogil:
            ovf_pool_async_abandon(self.h.pool)

    cdef int _refuse_blocking_the_loop(self, str what) except -1:
        """A blocking wait on the loop's own thread, with infer_async runs out, would wait for completions
        only that thread can deliver."""
        if (self._aloop is not None and asyncio._get_running_loop() is self._aloop
                and any(f is not None for f in self._afutures)):
            raise RuntimeError(f"{what} on the event loop's thread would block the infer_async completions it "
                               f"waits for; await infer_async (or run this in an executor) instead")
        return 0

    def __repr__(self):
        return f"<AsyncInferQueue: {len(self._jobs)} jobs>"


# How often queued infer_async calls look for jobs freed by other paths (start_async in other threads,
# C code): our own completions start them at once.
ASYNC_POKE_S = 0.005


def _async_drain(_PoolHandle h, queue_ref):
    """The event loop's reader on the pool's eventfd: one call per batch of completions."""
    cdef vector[int] batch
    queue = queue_ref()
    if queue is None or h.closing:  # the queue is gone; its __dealloc__ released the jobs
        return
    ovf_pool_async_take(h.pool, batch)
    (<AsyncInferQueue>queue)._async_wakeups += 1
    if batch.size():
        (<AsyncInferQueue>queue)._async_completions += batch.size()
        (<AsyncInferQueue>queue)._async_deliver(batch)


def _poke_async(queue_ref):
    """While infer_async calls are queued: starts them on jobs that other paths (start_async in other
    threads, C code) gave back, which no completion of ours announces."""
    cdef AsyncInferQueue queue = queue_ref()
    if queue is None:
        return
    queue._poke = None
    queue._start_queued()
    if queue._afifo and queue._aloop is not None and not queue._aloop.is_closed():
        queue._poke = queue._aloop.call_later(ASYNC_POKE_S, _poke_async, queue_ref)


cdef _stop_watching(object loop, ovf_pool* pool):
    """Takes the queue's eventfd off its loop (from the loop's thread, as the loop requires)."""
    if loop.is_closed():
        return
    fd = ovf_pool_async_fd(pool)
    try:
        if asyncio._get_running_loop() is loop or not loop.is_running():
            loop.remove_reader(fd)
        else:
            loop.call_soon_threadsafe(loop.remove_reader, fd)
    except Exception:
        pass  # a loop being torn down: its selector goes with it


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


cdef class _BoundTensors:
    """The tensors every job had before map() bound slices of its arrays; restore() puts them back, so a
    job never keeps writing into (or reading) the caller's arrays after map() returns."""
    cdef list jobs
    cdef vector[ov_tensor_t*] saved
    cdef int n_in, n_out

    def __cinit__(self, list jobs, int n_in, int n_out):
        cdef ov_tensor_t* t
        cdef InferRequest r
        self.jobs, self.n_in, self.n_out = jobs, n_in, n_out
        for job in jobs:
            r = <InferRequest>job
            for i in range(n_in):
                t = NULL
                check(ov_infer_request_get_input_tensor_by_index(r.req, i, &t), b"get_input_tensor")
                self.saved.push_back(t)
            for j in range(n_out):
                t = NULL
                check(ov_infer_request_get_output_tensor_by_index(r.req, j, &t), b"get_output_tensor")
                self.saved.push_back(t)

    cdef restore(self):
        cdef size_t k = 0
        cdef InferRequest r
        for job in self.jobs:
            r = <InferRequest>job
            for i in range(self.n_in):
                check(ov_infer_request_set_input_tensor_by_index(r.req, i, self.saved[k]), b"set_input_tensor")
                k += 1
            for j in range(self.n_out):
                check(ov_infer_request_set_output_tensor_by_index(r.req, j, self.saved[k]), b"set_output_tensor")
                k += 1

    def __dealloc__(self):
        for t in self.saved:
            if t != NULL:
                ov_tensor_free(t)


# Binding a tensor to a request costs the CPU plugin about as much as copying 16 KiB (measured in C on
# this machine: rebinding three f32[8] tensors per item halves a round-robin loop's rate, copying them costs
# under a tenth). So map() copies items up to this size through tensors of its own, bound once per job,
# and binds larger ones zero-copy.
cdef enum:
    MAP_COPY_MAX_BYTES = 16384

# How often map's loop looks for Ctrl-C (it then also waits for the job at hand: one inference at most).
cdef int64_t MAP_POLL_NS = 50_000_000


cdef class _MapPlan:
    """map()'s arrays, checked and laid out so that item k's tensors are pointer arithmetic (no GIL)."""
    cdef Py_ssize_t n
    cdef list keep
    cdef list out_arrays
    cdef tuple out_ports
    cdef dict out_names
    cdef vector[char*] base
    cdef vector[size_t] stride
    cdef vector[int] ctype
    cdef vector[dims_t] dims
    cdef vector[char] copied     # per port: copied through own[] rather than bound zero-copy
    cdef vector[ov_tensor_t*] own  # per job and port (job * n_ports + port), for copied ports
    cdef vector[char*] own_data
    cdef int n_in
    cdef object interrupt        # what Ctrl-C raised while map's loop ran

    def __cinit__(self, CompiledModel cm, inputs, outputs):
        self.keep = []
        self.out_ports, self.out_names = cm._outputs, cm._out_names
        given = _by_port(cm._inputs, cm._in_names, inputs, "input")
        self.n = -1
        for port in cm._inputs:
            arr = self._add(<ConstOutput>port, given[(<ConstOutput>port).idx], None, "input")
        self.n_in = len(cm._inputs)
        self.out_arrays = []
        want = _by_port(cm._outputs, cm._out_names, outputs, "output") if outputs is not None else None
        for port in cm._outputs:
            arr = None if want is None else want[(<ConstOutput>port).idx]
            self.out_arrays.append(self._add(<ConstOutput>port, arr, None, "output"))

    cdef object _add(self, ConstOutput port, object value, object unused, str what):
        cdef dims_t d
        if port.dynamic or port.npy < 0 or is_packed(port.ctype):
            raise _exc.InputValueError(f"map needs static, numpy-typed {what}s; {what} '{port._any_name}' is "
                                       f"{port._label()}: use start_async or imap")
        item_shape = tuple(port.dims)
        squeezed = item_shape[1:] if item_shape and item_shape[0] == 1 else None
        if value is None:  # an output we allocate
            arr = np.empty((self.n,) + item_shape, cnp.PyArray_DescrFromType(port.npy))
        else:
            if what == "input":
                arr = np.asarray(value)
                if arr.dtype.num != port.npy or not arr.dtype.isnative:
                    if arr.dtype.kind not in "biuf":
                        raise _exc.UnsupportedDtype(f"map: input '{port._any_name}' has dtype {arr.dtype}, which "
                                                  f"cannot be converted to {type_label(port.ctype)}")
                    arr = arr.astype(cnp.PyArray_DescrFromType(port.npy))
                arr = np.ascontiguousarray(arr)
                if not arr.flags.writeable and port.nbytes > MAP_COPY_MAX_BYTES:
                    arr = arr.copy()  # bound zero-copy otherwise, and ovfast never binds memory it may not write
            else:
                arr = value
                if not (isinstance(arr, np.ndarray) and arr.dtype.num == port.npy and arr.dtype.isnative
                        and arr.flags.c_contiguous and arr.flags.writeable):
                    raise _exc.InputValueError(
                        f"map: outputs['{port._any_name}'] must be a writable C-contiguous "
                        f"{np.dtype(cnp.PyArray_DescrFromType(port.npy))} array of shape (N, *{list(item_shape)})")
            shape = arr.shape
            if len(shape) >= 1 and shape[1:] == item_shape:
                pass
            elif squeezed is not None and len(shape) >= 1 and shape[1:] == squeezed:
                arr = arr.reshape((shape[0],) + item_shape)
            else:
                raise _exc.InputValueError(
                    f"map: {what} '{port._any_name}' takes items of {port._label()}: an array of shape "
                    f"(N, {', '.join(map(str, item_shape))})" + (
                        f" or (N, {', '.join(map(str, squeezed))})" if squeezed is not None else "") +
                    f", got {_describe(value)}")
            if self.n < 0:
                self.n = shape[0]
            elif shape[0] != self.n:
                raise _exc.InputValueError(f"map: {what} '{port._any_name}' has {shape[0]} items, the others "
                                           f"{self.n}")
        dims_from_seq(item_shape, &d)
        self.keep.append(arr)
        self.base.push_back(<char*>cnp.PyArray_DATA(<cnp.ndarray>arr))
        self.stride.push_back(port.nbytes)
        self.ctype.push_back(<int>port.ctype)
        self.dims.push_back(d)
        self.copied.push_back(port.nbytes <= MAP_COPY_MAX_BYTES)
        return arr

    cdef attach(self, vector[ov_infer_request_t*]& reqs):
        """Gives every job a tensor of map's own for each copied port: the job's current tensor may be a
        caller's array (share_inputs, set_tensor), which map must not write into."""
        cdef size_t n_ports = self.base.size(), j, k
        cdef ov_tensor_t* t
        cdef void* data
        self.own.assign(reqs.size() * n_ports, NULL)
        self.own_data.assign(reqs.size() * n_ports, NULL)
        for j in range(reqs.size()):
            for k in range(n_ports):
                if not self.copied[k]:
                    continue
                check(ov_tensor_create(<ov_element_type_e>self.ctype[k], as_shape(&self.dims[k]), &t),
                      b"ov_tensor_create")
                self.own[j * n_ports + k] = t
                check(ov_tensor_data(t, &data), b"ov_tensor_data")
                self.own_data[j * n_ports + k] = <char*>data
                if <int>k < self.n_in:
                    check(ov_infer_request_set_input_tensor_by_index(reqs[j], k, t), b"set_input_tensor")
                else:
                    check(ov_infer_request_set_output_tensor_by_index(reqs[j], k - self.n_in, t),
                          b"set_output_tensor")

    cdef void collect(self, int job, Py_ssize_t item) noexcept nogil:
        """Copies job's outputs of item (copied ports only) into the result arrays."""
        cdef size_t n_ports = self.base.size(), k
        for k in range(<size_t>self.n_in, n_ports):
            if self.copied[k]:
                memcpy(self.base[k] + item * self.stride[k], self.own_data[job * n_ports + k], self.stride[k])

    cdef ov_status_e bind(self, ov_infer_request_t* req, int job, Py_ssize_t item) noexcept nogil:
        """Points job at item: copies its copied inputs in, binds its other inputs and outputs."""
        cdef size_t n_ports = self.base.size(), k
        cdef ov_tensor_t* t
        cdef ov_status_e st
        for k in range(n_ports):
            if self.copied[k]:
                if <int>k < self.n_in:
                    memcpy(self.own_data[job * n_ports + k], self.base[k] + item * self.stride[k], self.stride[k])
                continue
            t = NULL
            st = ov_tensor_create_from_host_ptr(<ov_element_type_e>self.ctype[k], as_shape(&self.dims[k]),
                                                self.base[k] + item * self.stride[k], &t)
            if st != OK:
                return st
            if <int>k < self.n_in:
                st = ov_infer_request_set_input_tensor_by_index(req, k, t)
            else:
                st = ov_infer_request_set_output_tensor_by_index(req, k - self.n_in, t)
            ov_tensor_free(t)  # the request holds its own reference
            if st != OK:
                return st
        return OK

    cdef bint poll_signals(self) noexcept with gil:
        """For map's loop, which holds no GIL: True (keeping the exception for map to raise) on Ctrl-C."""
        try:
            cpython.PyErr_CheckSignals()
        except BaseException as e:
            self.interrupt = e
            return True
        return False

    cdef OVDict result(self):
        return make_ovdict(self.out_ports, list(self.out_arrays), self.out_names)

    def __dealloc__(self):
        for t in self.own:
            if t != NULL:
                ov_tensor_free(t)  # the jobs hold their own references until restore()


cdef list _by_port(tuple ports, dict names, object values, str what):
    """values (a dict by index/name/port, a list, or one array for one port) as a list in port order."""
    cdef Py_ssize_t n = len(ports)
    out = [None] * n
    if isinstance(values, dict):
        for key, v in values.items():
            out[port_index(ports, names, key, what)] = v
    elif type(values) is list or type(values) is tuple:
        if len(values) != n:
            raise _exc.InputValueError(f"the model has {n} {what}(s) {[p.any_name for p in ports]}, got a "
                                       f"{type(values).__name__} of {len(values)}")
        out = list(values)
    elif n == 1:
        out[0] = values
    else:
        raise _exc.InputValueError(f"the model has {n} {what}s {[p.any_name for p in ports]}: pass a dict or a "
                                   f"list")
    if what == "input":
        missing = [(<ConstOutput>ports[i]).any_name for i in range(n) if out[i] is None]
        if missing:
            raise _exc.InputValueError(f"map needs every input; missing {missing}")
    return out

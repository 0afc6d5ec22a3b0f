# The asyncio side of a queue: infer_async() and aimap(). Jobs it starts are held by ASYNCIO: they settle
# into the pool's event-loop list, and the loop's reader on the pool's eventfd takes a whole batch of them
# per wake-up, settles their futures, runs the queue's callback for each, and gives the jobs back.

# How often queued infer_async calls look for jobs freed by other paths (start_async in other threads,
# C code): our own completions start them at once.
ASYNC_POKE_S = 0.005


@cython.final
cdef class _AsyncBridge:
    """One queue's infer_async calls on one event loop at a time (a queue's loop may close and another take
    its place)."""
    cdef _PoolHandle h
    cdef object queue_ref        # the queue (weakly: the queue holds this bridge)
    cdef object loop             # the event loop completions go to
    cdef list futures            # per job: the future of its infer_async run, or None
    cdef object fifo             # (future, inputs, userdata, share_inputs) of calls queued for a job
    cdef Py_ssize_t wakeups, completions
    cdef object poke             # the timer that looks for jobs freed by other paths while calls are queued

    def __cinit__(self, AsyncInferQueue queue):
        self.h = queue.h
        self.queue_ref = weakref.ref(queue)
        self.futures = [None] * len(queue._jobs)
        self.fifo = collections.deque()

    cdef int bind(self, object loop) except -1:
        """Makes `loop` the one this queue's infer_async completions go to, watching the pool's eventfd."""
        if self.loop is loop:
            return 0
        if self.loop is not None and not self.loop.is_closed():
            raise RuntimeError("this AsyncInferQueue delivers to another event loop that is still open; give "
                               "each event loop (each thread) a queue of its own")
        self.reap()  # what a closed loop left
        fd = ovf_pool_async_fd(self.h.pool)
        if fd < 0:
            raise OSError("infer_async: the system refused an eventfd for the queue's completions")
        loop.add_reader(fd, _async_drain, self)
        self.loop = loop
        self.poke = None  # a closed loop's timer never fires
        _async_drain(self)  # completions that arrived meanwhile (their futures are gone)
        return 0

    cdef object submit(self, object inputs, object userdata, bint share_inputs):
        """The future of an infer_async call: started now on an idle job, or queued (in order) for the
        next job our completions free."""
        cdef AsyncInferQueue q = self.queue_ref()
        cdef int id
        q._errors.raise_kept()
        fut = self.loop.create_future()
        if not self.fifo:
            id = ovf_pool_acquire(self.h.pool, -1, 0, True)
            if id >= 0:
                self.start(q, id, fut, inputs, userdata, share_inputs)
                return fut
        self.fifo.append((fut, inputs, userdata, share_inputs))
        if self.poke is None:
            self.poke = self.loop.call_later(ASYNC_POKE_S, _poke_async, self)
        return fut

    cdef start(self, AsyncInferQueue q, int id, object fut, object inputs, object userdata, bint share):
        """Starts job id (taken) for fut; wrong inputs are raised where the future is awaited."""
        try:
            q._fill(id, inputs, share)  # gives the job back if it fails
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as e:
            fut.set_exception(e)
            return
        self.futures[id] = fut
        q._userdata[id] = userdata
        try:
            q._start(id, OVF_ASYNCIO, True)
        except BaseException as e:
            self.futures[id] = None
            q._give_back(id)
            if isinstance(e, (KeyboardInterrupt, SystemExit)):
                raise
            fut.set_exception(e)

    cdef start_queued(self, AsyncInferQueue q):
        """Starts queued infer_async calls on the idle jobs there are."""
        cdef int id
        fifo = self.fifo
        while fifo:
            fut, inputs, userdata, share = fifo[0]
            if fut.done():  # cancelled while queued
                fifo.popleft()
                continue
            id = ovf_pool_acquire(self.h.pool, -1, 0, True)
            if id < 0:
                return
            fifo.popleft()
            self.start(q, id, fut, inputs, userdata, share)

    cdef deliver(self, AsyncInferQueue q, vector[int]& batch):
        """On the loop's thread: the results of finished infer_async runs to their futures, the queue's
        callback run for each, and the jobs back to idle; then what a callback raised that must not wait."""
        cdef int id
        cdef InferRequest req
        cdef list settle = []
        callback = q._callback
        for id in batch:
            req = <InferRequest>q._jobs[id]
            fut = self.futures[id]
            self.futures[id] = None
            if fut is not None and not fut.done():
                if req.state.run_status != OK:
                    outcome = failure(req.state.run_status, req.state.run_message.decode("utf-8", "replace"),
                                      f"infer_async: job {id}")
                else:
                    try:
                        outcome = req._results(False)
                    except BaseException as e:
                        outcome = e
                settle.append((fut, outcome))
            if callback is not None:
                q._errors.run(callback, (req, q._userdata[id]))
            req.state.checked = req.state.started.load()  # reported here, not by the queue later
        with nogil:
            ovf_pool_release(self.h.pool, batch, False)
        if self.fifo:
            self.start_queued(q)
        for fut, outcome in settle:
            if isinstance(outcome, BaseException):
                fut.set_exception(outcome)
            else:
                fut.set_result(outcome)
        q._errors.raise_urgent()  # this thread is the one that waits: out of the loop's run

    cdef reap(self):
        """Jobs of an event loop that is closed go back to idle, their results dropped; those still running
        go back when they finish (here or in the next loop's reader)."""
        cdef Py_ssize_t id
        if self.loop is None or not self.loop.is_closed():
            return
        for id in range(len(self.futures)):
            self.futures[id] = None
        self.fifo.clear()
        with nogil:
            ovf_pool_async_abandon(self.h.pool)

    cdef int refuse_blocking(self, str what) except -1:
        """A blocking wait on the loop's own thread, with infer_async runs out, would wait for completions
        only that thread can deliver."""
        if (self.loop is not None and asyncio._get_running_loop() is self.loop
                and any(f is not None for f in self.futures)):
            raise RuntimeError(f"{what} on the event loop's thread would block the infer_async completions it "
                               f"waits for; await infer_async (or run this in an executor) instead")
        return 0

    cdef stop_watching(self):
        """Takes the queue's eventfd off its loop (from the loop's thread, as the loop requires). Never
        raises: the queue's __dealloc__ closes the pool after it, and a loop in a cycle with the queue may
        have had its attributes cleared by the garbage collector first (is_closed() then raises)."""
        loop = self.loop
        if loop is None:
            return
        try:
            if loop.is_closed():
                return
            fd = ovf_pool_async_fd(self.h.pool)
            if asyncio._get_running_loop() is loop or not loop.is_running():
                loop.remove_reader(fd)
            else:
                loop.call_soon_threadsafe(loop.remove_reader, fd)
        except Exception:
            pass  # a loop being torn down (or cleared by the collector): its selector goes with it


def _async_drain(_AsyncBridge bridge):
    """The event loop's reader on the pool's eventfd: one call per batch of completions."""
    cdef vector[int] batch
    queue = bridge.queue_ref()
    if queue is None or bridge.h.closing:  # the queue is gone; it settled the jobs (ovf_pool_close)
        return
    ovf_pool_async_take(bridge.h.pool, batch)
    bridge.wakeups += 1
    if batch.size():
        bridge.completions += batch.size()
        bridge.deliver(<AsyncInferQueue>queue, batch)


def _poke_async(_AsyncBridge bridge):
    """While infer_async calls are queued: starts them on jobs that other paths (start_async in other
    threads, C code) gave back, which no completion of ours announces."""
    queue = bridge.queue_ref()
    bridge.poke = None
    if queue is None:
        return
    bridge.start_queued(<AsyncInferQueue>queue)
    if bridge.fifo and not bridge.loop.is_closed():
        bridge.poke = bridge.loop.call_later(ASYNC_POKE_S, _poke_async, bridge)


async def _aimap(AsyncInferQueue q, items, bint share_inputs):
    """aimap()'s generator."""
    bridge = q._bridge(asyncio.get_running_loop())
    pending = collections.deque()
    cdef Py_ssize_t ahead = max(len(q._jobs), 1)
    try:
        if hasattr(items, "__aiter__"):
            async for item in items:
                if len(pending) >= ahead:
                    yield await pending.popleft()
                pending.append((<_AsyncBridge>bridge).submit(item, None, share_inputs))
        else:
            for item in items:
                if len(pending) >= ahead:
                    yield await pending.popleft()
                pending.append((<_AsyncBridge>bridge).submit(item, None, share_inputs))
        while pending:
            yield await pending.popleft()
    finally:
        for fut in pending:  # abandoned: queued items never start, started ones finish unread
            fut.cancel()

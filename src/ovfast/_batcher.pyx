# cython: language_level=3, embedsignature=True
"""ovfast.DynamicBatcher: many callers' single items run as batched inferences, gathered below the GIL
(_batcher.hpp). It drives two AsyncInferQueues' job pools through the C-level API (api.pxd), as an outside
library would."""
from libc.stdint cimport int64_t, uint64_t, uintptr_t
from libcpp cimport bool as cbool
from libcpp.string cimport string
from libcpp.vector cimport vector
from cpython.ref cimport Py_DECREF, Py_INCREF
from cpython.pycapsule cimport PyCapsule_New
cimport numpy as cnp

from ovfast cimport api
from ovfast.api cimport ovf_pool
from ovfast._runtime cimport CompiledModel, ConstOutput, item_arrays, result_of

import asyncio
import atexit
import os
import threading
import weakref

import numpy as np

cnp.import_array()
api.check_version()

cdef extern from "_batcher.hpp" nogil:
    struct ovfb_api:
        int (*acquire)(ovf_pool*, int64_t, int*) noexcept nogil
        int (*input)(ovf_pool*, int, size_t, void**, size_t*) noexcept nogil
        int (*bind)(ovf_pool*, int, cbool, size_t, void*, size_t, const int64_t*, size_t) noexcept nogil
        int (*start)(ovf_pool*, int, void (*)(void*, int) noexcept nogil, void*) noexcept nogil
        int (*wait)(ovf_pool*, int, int64_t) noexcept nogil
        int (*infer)(ovf_pool*, int) noexcept nogil
        int (*output)(ovf_pool*, int, size_t, void**, size_t*) noexcept nogil
        int (*release)(ovf_pool*, int) noexcept nogil
        const char* (*last_error)() noexcept nogil
    enum:
        OVFB_SYNC, OVFB_ASYNC, OVFB_CALLBACK
    cppclass ovfb_item:
        vector[const char*] in_ "in"
        vector[char*] out
        int kind
        int status
        string error
        void* user
        int refs
    cppclass ovfb_batcher:
        ovfb_api api
        ovf_pool* pools[2]
        vector[size_t] in_bytes, out_bytes
        vector[vector[int64_t]] in_dims
        int max_batch, jobs
        int64_t max_delay_ns
        cbool greedy, manual_clock, bind_lone
        int efd
        void setup()
        cbool submit(ovfb_item*)
        cbool submit_sync(ovfb_item*)
        void snapshot(vector[int64_t]&, vector[int64_t]&, unsigned long long&, unsigned long long&, vector[uint64_t]&)
        void take_async(vector[ovfb_item*]&)
        cbool take_callbacks(vector[ovfb_item*]&)
        void wait_idle()
        void advance_clock(int64_t)
        void set_fail_next(const string&)
        int queued()
        void close()
    void ovfb_wait_item "ovfb_batcher::wait_item"(ovfb_item*)
    void ovfb_cancel "ovfb_batcher::cancel"(ovfb_item*)
    cbool ovfb_unref "ovfb_batcher::unref"(ovfb_item*)
    cbool ovfb_due "ovfb_batcher::due"(int, int64_t, int, int, int, int64_t, cbool, cbool)
    int ovfb_submit_c(void*, const void* const*, void* const*, void (*)(void*, int, const char*) noexcept nogil,
                      void*)

cdef extern from *:
    """
    // What other extensions get from DynamicBatcher._c_api(): submit(core, inputs, outputs, notify, ctx).
    typedef struct {
        int version;
        void* core;
        int (*submit)(void*, const void* const*, void* const*, void (*)(void*, int, const char*), void*);
        size_t n_inputs, n_outputs;
        const size_t* in_bytes;
        const size_t* out_bytes;
    } ovfb_c_api;
    """
    ctypedef struct ovfb_c_api:
        int version
        void* core
        int (*submit)(void*, const void* const*, void* const*, void (*)(void*, int, const char*) noexcept nogil,
                      void*) noexcept nogil
        size_t n_inputs, n_outputs
        const size_t* in_bytes
        const size_t* out_bytes


# the C-level API as plain function pointers for the C++ core
cdef int _acquire(ovf_pool* p, int64_t t, int* j) noexcept nogil:
    return api.job_acquire(p, t, j)
cdef int _input(ovf_pool* p, int j, size_t i, void** d, size_t* n) noexcept nogil:
    return api.job_input(p, j, i, d, n)
cdef int _bind(ovf_pool* p, int j, cbool o, size_t i, void* d, size_t n, const int64_t* dims, size_t r) noexcept nogil:
    return api.job_bind(p, j, o, i, d, n, dims, r)
cdef int _start(ovf_pool* p, int j, void (*done)(void*, int) noexcept nogil, void* ctx) noexcept nogil:
    return api.job_start(p, j, done, ctx)
cdef int _wait(ovf_pool* p, int j, int64_t t) noexcept nogil:
    return api.job_wait(p, j, t)
cdef int _infer(ovf_pool* p, int j) noexcept nogil:
    return api.job_infer(p, j)
cdef int _output(ovf_pool* p, int j, size_t i, void** d, size_t* n) noexcept nogil:
    return api.job_output(p, j, i, d, n)
cdef int _release(ovf_pool* p, int j) noexcept nogil:
    return api.job_release(p, j)
cdef const char* _last_error() noexcept nogil:
    return api.last_error()


def _due(int queued, int64_t waited_ns, int running, int jobs, int max_batch, int64_t max_delay_ns, bint greedy,
         bint closing):
    """The batching policy, as the core applies it (for tests)."""
    return ovfb_due(queued, waited_ns, running, jobs, max_batch, max_delay_ns, greedy, closing)


_live = weakref.WeakSet()


@atexit.register
def _close_all():
    """At exit every batcher runs what is queued and answers its callers before the interpreter goes."""
    for b in list(_live):
        b.close()


cdef class _Core:
    """The C++ core and what it runs on (the queues whose pools it drives). Freed last: the callback
    thread holds it."""
    cdef ovfb_batcher* b
    cdef object queues
    cdef ovfb_c_api c_api

    cdef void shut(self) noexcept:
        """Closes the core (what is queued runs and is answered) and drops what no one will drain."""
        cdef vector[ovfb_item*] left
        if self.b == NULL:
            return
        with nogil:
            self.b.close()
            self.b.take_async(left)
        for i in range(left.size()):
            _drop(left[i])

    def __dealloc__(self):
        cdef vector[ovfb_item*] left
        if self.b != NULL:
            self.shut()
            with nogil:
                self.b.take_callbacks(left)
            for i in range(left.size()):
                _drop(left[i])
            for k in range(2):
                if self.b.pools[k] != NULL:
                    api.pool_unref(self.b.pools[k])
            del self.b
            self.b = NULL


cdef void _drop(ovfb_item* it) noexcept:
    """Lets go of an answered item (an asyncio one once its coroutine has too), its Python side with it."""
    if not ovfb_unref(it):
        return
    if it.user != NULL:
        Py_DECREF(<object>it.user)
    del it


cdef cnp.ndarray _empty(ConstOutput port):
    cdef cnp.npy_intp dims[32]
    cdef Py_ssize_t k
    for k in range(port.rank):
        dims[k] = port.dims[k]
    return cnp.PyArray_EMPTY(<int>port.rank, dims, port.npy, 0)


cdef class DynamicBatcher:
    """Many callers' single items (threads, asyncio tasks, callbacks) run as batched inferences of `model`,
    gathered below the GIL.

    DynamicBatcher(model, device="CPU", config=None, max_batch_size=16, max_delay_us=500, jobs=0)

    model: an openvino.Model or a model file whose inputs each have a batch dimension on the first axis (1,
    dynamic or fixed; a layout that names N on another axis is refused). It is compiled twice: at batch 1 (``compiled``, which
    runs lone items) and with a batch of 1..max_batch_size. An item is what ``compiled(x)`` takes (the
    batch axis of 1 may be left out) and its result is what that call returns. A batch starts at once
    while a job is idle, else when max_batch_size items wait or the oldest has waited max_delay_us. jobs:
    how many batches run at once (0: twice the compiled model's optimal number of requests)."""
    cdef _Core core
    cdef readonly CompiledModel compiled   # the batch-1 model: lone items, and its results' ports
    cdef readonly object batched           # the batched model (compiled as 1..max_batch_size)
    cdef tuple out_ports
    cdef object callback
    cdef object cb_thread
    cdef object cb_error                   # the first exception a callback raised, for wait_all
    cdef object cb_done                    # a Condition: start_async items not yet called back
    cdef Py_ssize_t cb_pending
    cdef object loops                      # the event loops watching the core's eventfd
    cdef bint closed
    cdef readonly int max_batch_size
    cdef readonly int max_delay_us
    cdef readonly int jobs
    cdef object __weakref__

    def __init__(self, model, device="CPU", config=None, int max_batch_size=16, int max_delay_us=500,
                 int jobs=0):
        import openvino
        import ovfast
        if max_batch_size < 1:
            raise ValueError(f"DynamicBatcher: max_batch_size must be at least 1, got {max_batch_size}")
        if max_delay_us < 0:
            raise ValueError(f"DynamicBatcher: max_delay_us must not be negative, got {max_delay_us}")
        if jobs < 0:
            raise ValueError(f"DynamicBatcher: jobs must be 0 (twice the model's optimal number of requests) or more, got {jobs}")
        if isinstance(model, (str, bytes, os.PathLike)):
            path = os.fsdecode(model)
            if not os.path.exists(path):
                raise RuntimeError(f"DynamicBatcher: the model file '{path}' does not exist")
            model = openvino.Core().read_model(path)
        elif not isinstance(model, openvino.Model):
            raise TypeError(f"DynamicBatcher: model must be an openvino.Model or a model file, got "
                            f"{type(model).__name__}")
        one, many = model.clone(), model.clone()
        shapes_one, shapes_many = {}, {}
        for i, port in enumerate(model.inputs):
            name = port.get_any_name() if port.get_names() else str(i)
            shape = port.get_partial_shape()
            if shape.rank.is_dynamic or shape.rank.get_length() == 0:
                raise ValueError(f"DynamicBatcher: input '{name}' has no batch dimension (shape {shape}); every "
                                 f"input needs one: the first, or the one its layout names N")
            layout = openvino.layout_helpers.get_layout(port)
            if not layout.empty and layout.has_name("N"):
                axis = layout.get_index_by_name("N") % shape.rank.get_length()
                if axis != 0:
                    raise ValueError(f"DynamicBatcher: input '{name}' has its batch dimension at axis {axis} "
                                     f"(layout {layout}); the batcher takes it on the first axis")
            rest = [shape[k] for k in range(1, shape.rank.get_length())]
            if any(d.is_dynamic for d in rest):
                raise ValueError(f"DynamicBatcher: input '{name}' has shape {shape}: every dimension but the "
                                 f"batch must be static to put items in one batch (reshape the model first)")
            if port.get_element_type() in (openvino.Type.string,) or port.get_element_type().bitwidth < 8:
                raise ValueError(f"DynamicBatcher: input '{name}' is of type {port.get_element_type()}: the "
                                 f"batcher puts rows of bytes together (numeric types of 8 bits or more)")
            dims = [d.get_length() for d in rest]
            shapes_one[i] = openvino.PartialShape([1] + dims)
            shapes_many[i] = openvino.PartialShape([openvino.Dimension(1, max_batch_size)] + dims)
        one.reshape(shapes_one)
        many.reshape(shapes_many)
        core = ovfast.Core()
        self.compiled = core.compile_model(one, device, config or {})
        self.batched = core.compile_model(many, device, config or {}) if max_batch_size > 1 else self.compiled
        for i, (p1, pn) in enumerate(zip(self.compiled.outputs, self.batched.outputs)):
            name = p1.get_any_name() if p1.get_names() else str(i)
            if p1.get_partial_shape().is_dynamic or p1.get_element_type().bitwidth < 8 or \
                    p1.get_element_type() == openvino.Type.string:
                raise ValueError(f"DynamicBatcher: output '{name}' is {p1.get_element_type()}"
                                 f"{p1.get_partial_shape()} at batch 1; the batcher splits static numeric outputs")
            shape1 = tuple(p1.get_shape())
            if not shape1 or shape1[0] != 1 or (max_batch_size > 1 and pn.get_partial_shape()[0].is_static):
                raise ValueError(f"DynamicBatcher: output '{name}' (shape {list(shape1)} at batch 1, "
                                 f"{pn.get_partial_shape()} batched) does not carry the batch on its first axis")
        self.out_ports = tuple(self.compiled.outputs)
        # by default two per request OpenVINO would run at once: one batch gathers (or a caller's thread
        # runs one) while another runs (4 threads on a 2-stream MLP: 0.5x compiled(x) with 2, 1.0x with 4)
        nreq = jobs or 2 * self.batched.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")
        queues = (ovfast.AsyncInferQueue(self.compiled, nreq), ovfast.AsyncInferQueue(self.batched, nreq))
        cdef _Core c = _Core.__new__(_Core)
        c.queues = queues
        c.b = new ovfb_batcher()
        c.b.api.acquire, c.b.api.input, c.b.api.bind, c.b.api.start = _acquire, _input, _bind, _start
        c.b.api.wait, c.b.api.infer, c.b.api.output = _wait, _infer, _output
        c.b.api.release, c.b.api.last_error = _release, _last_error
        c.b.pools[0] = api.queue_pool(queues[0])
        c.b.pools[1] = api.queue_pool(queues[1])
        cdef ConstOutput p
        for p in self.compiled.inputs:
            c.b.in_bytes.push_back(p.nbytes)
            c.b.in_dims.push_back(list(p.dims))
        for p in self.out_ports:
            c.b.out_bytes.push_back(p.nbytes)
        # as compiled(x) does: items of 64 KiB or more bound, smaller ones copied (inputs.pxi)
        c.b.bind_lone = sum(c.b.in_bytes) >= 1 << 16
        c.b.max_batch, c.b.jobs, c.b.max_delay_ns = max_batch_size, nreq, max_delay_us * 1000
        c.b.setup()
        self.core = c
        self.max_batch_size, self.max_delay_us, self.jobs = max_batch_size, max_delay_us, nreq
        self.loops = weakref.WeakSet()
        self.cb_done = threading.Condition()
        _live.add(self)

    def __dealloc__(self):
        if self.core is not None:
            self.core.shut()

    # --- items ---------------------------------------------------------------------------------------------
    cdef ovfb_item* _item(self, list arrays, list outs, int kind) except NULL:
        """A new item over the caller's arrays (kept alive by the caller until it is answered)."""
        cdef ovfb_item* it = new ovfb_item()
        cdef cnp.ndarray a
        for a in arrays:
            it.in_.push_back(<const char*>cnp.PyArray_DATA(a))
        for a in outs:
            it.out.push_back(<char*>cnp.PyArray_DATA(a))
        it.kind = kind
        return it

    cdef list _outputs(self):
        return [_empty(<ConstOutput>p) for p in self.out_ports]

    cdef object _result(self, ovfb_item* it, list outs):
        """The item's OVDict, or its batch's error raised."""
        if it.status != 0:
            raise RuntimeError(f"DynamicBatcher: the batched inference failed: "
                               f"{it.error.decode('utf-8', 'replace')}")
        return result_of(self.compiled, outs)

    cdef int _closed_error(self) except -1:
        raise RuntimeError("DynamicBatcher: this batcher is closed")

    def infer(self, inputs):
        """Runs one item (what compiled(x) takes on the batch-1 model) in a batch and returns its OVDict.
        Safe from any number of threads: while a job is idle the calling thread runs the batch itself (its
        item and those waiting), else its item waits for the next batch."""
        cdef cbool ok
        if self.closed:
            self._closed_error()
        arrays = item_arrays(self.compiled, inputs)
        outs = self._outputs()
        cdef ovfb_item* it = self._item(arrays, outs, OVFB_SYNC)
        with nogil:
            ok = self.core.b.submit_sync(it)
        try:
            if not ok:
                self._closed_error()
            return self._result(it, outs)
        finally:
            del it

    # --- asyncio -------------------------------------------------------------------------------------------
    async def infer_async(self, inputs):
        """infer() for asyncio: awaits the item's batch without blocking the loop. A call cancelled before
        its item's batch starts never runs."""
        if self.closed:
            self._closed_error()
        loop = asyncio.get_running_loop()
        if loop not in self.loops:
            loop.add_reader(self.core.b.efd, self._drain_async)
            self.loops.add(loop)
        future = loop.create_future()
        cdef uintptr_t address = self._submit(inputs, future, OVFB_ASYNC)
        try:
            return await future
        except asyncio.CancelledError:
            ovfb_cancel(<ovfb_item*>address)
            raise
        finally:
            _drop(<ovfb_item*>address)   # the coroutine's hold: the item lives until it and its answer let go

    cdef uintptr_t _submit(self, inputs, user, int kind) except 0:
        """Queues an item answered through the done lists; its user object holds what it points to."""
        cdef cbool ok
        arrays = item_arrays(self.compiled, inputs)
        outs = self._outputs()
        cdef ovfb_item* it = self._item(arrays, outs, kind)
        if kind == OVFB_ASYNC:
            it.refs = 2
        held = (user, arrays, outs)
        Py_INCREF(held)
        it.user = <void*>held
        with nogil:
            ok = self.core.b.submit(it)
        if not ok:
            it.refs = 1
            _drop(it)
            self._closed_error()
        return <uintptr_t>it

    def _drain_async(self):
        """The loops' reader: every answered infer_async item to its future (on the future's loop)."""
        cdef vector[ovfb_item*] done
        cdef ovfb_item* it
        with nogil:
            self.core.b.take_async(done)
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        for i in range(done.size()):
            it = done[i]
            future, arrays, outs = <tuple>it.user
            loop = future.get_loop()
            if not future.done() and not loop.is_closed():
                try:
                    outcome = self._result(it, outs)
                except BaseException as exc:
                    outcome = exc
                if loop is running:
                    _settle(future, outcome)
                else:
                    loop.call_soon_threadsafe(_settle, future, outcome)
            _drop(it)

    # --- callbacks -----------------------------------------------------------------------------------------
    def set_callback(self, fn):
        """fn(result, userdata) for start_async's items: result is the item's OVDict, or the exception its
        batch failed with. Called on one thread of the batcher's, once per item, a batch at a time. What fn
        raises is raised by the next wait_all()."""
        if not callable(fn):
            raise TypeError(f"DynamicBatcher.set_callback: expected a callable, got {type(fn).__name__}")
        self.callback = fn
        if self.cb_thread is None:
            self.cb_thread = threading.Thread(target=_deliver, args=(weakref.ref(self), self.core),
                                              name="ovfast-batcher-callbacks", daemon=True)
            self.cb_thread.start()

    def start_async(self, inputs, userdata=None):
        """Queues one item; the callback (set_callback) gets its result and userdata."""
        if self.closed:
            self._closed_error()
        if self.callback is None:
            raise RuntimeError("DynamicBatcher.start_async: set a callback first (set_callback(fn))")
        with self.cb_done:
            self.cb_pending += 1
        try:
            self._submit(inputs, userdata, OVFB_CALLBACK)
        except BaseException:
            with self.cb_done:
                self.cb_pending -= 1
            raise

    cdef void _call_back(self, ovfb_item* it) noexcept:
        userdata, arrays, outs = <tuple>it.user
        try:
            result = self._result(it, outs)
        except BaseException as exc:
            result = exc
        try:
            self.callback(result, userdata)
        except BaseException as exc:
            if self.cb_error is None:
                self.cb_error = exc
        with self.cb_done:
            self.cb_pending -= 1
            if self.cb_pending == 0:
                self.cb_done.notify_all()

    cdef _callbacks_run(self):
        with self.cb_done:
            while self.cb_pending:
                self.cb_done.wait(0.1)

    def wait_all(self):
        """Waits until no item is queued or running and every start_async callback has run; then raises
        the first exception a callback raised, if one did."""
        if threading.current_thread() is self.cb_thread:
            raise RuntimeError("DynamicBatcher.wait_all: called from a callback, it would wait for itself")
        with nogil:
            self.core.b.wait_idle()
        self._callbacks_run()
        error, self.cb_error = self.cb_error, None
        if error is not None:
            raise error

    # --- figures, the C entry and the end ------------------------------------------------------------------
    def stats(self):
        """{"batches", "items", "mean_batch_size", "batch_sizes": {size: batches}, "queue_wait_us": {"p50",
        "p90", "p99"}, "inference_us": {...}}: counts since the start, percentiles over the last 4096 items
        (waits) and runs. A lone item counts as a batch of 1 that waited 0."""
        cdef vector[int64_t] w, r
        cdef vector[uint64_t] sizes
        cdef unsigned long long nb = 0, ni = 0
        with nogil:
            self.core.b.snapshot(w, r, nb, ni, sizes)
        waits = np.array(w, np.float64) / 1e3
        runs = np.array(r, np.float64) / 1e3

        def pct(a):
            return {f"p{q}": float(np.percentile(a, q)) if a.size else None for q in (50, 90, 99)}
        return {"batches": int(nb), "items": int(ni), "mean_batch_size": int(ni) / int(nb) if nb else 0.0,
                "batch_sizes": {k: int(sizes[k]) for k in range(sizes.size()) if sizes[k]},
                "queue_wait_us": pct(waits), "inference_us": pct(runs)}

    def _c_api(self):
        """A capsule "ovfast.DynamicBatcher.c_api" of an ovfb_c_api (_batcher.pyx): submit() for C callers
        (the video elements), valid while this batcher lives."""
        cdef ovfb_c_api* c = &self.core.c_api
        c.version = 1
        c.core = <void*>self.core.b
        c.submit = ovfb_submit_c
        c.n_inputs = self.core.b.in_bytes.size()
        c.n_outputs = self.core.b.out_bytes.size()
        c.in_bytes = self.core.b.in_bytes.data()
        c.out_bytes = self.core.b.out_bytes.data()
        return PyCapsule_New(c, b"ovfast.DynamicBatcher.c_api", NULL)

    def _fill_batches(self):
        """From now on a batch waits for max_batch_size items or max_delay_us even while a job is idle (the
        video elements' batch-timeout); by default one starts at once then. Call it before the first item."""
        self.core.b.greedy = False

    def close(self):
        """Runs what is queued, answers every caller, and takes no more items. Also at interpreter exit."""
        if self.closed:
            return
        self.closed = True
        _live.discard(self)
        with nogil:
            self.core.b.close()
        if threading.current_thread() is not self.cb_thread:
            self._callbacks_run()
        self._drain_async()
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        for loop in list(self.loops):
            if loop is running:
                loop.remove_reader(self.core.b.efd)
            elif not loop.is_closed():
                loop.call_soon_threadsafe(loop.remove_reader, self.core.b.efd)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- tests ---------------------------------------------------------------------------------------------
    def _manual_clock(self, bint greedy=False):
        """Tests: the deadline reads a clock that only _advance_us moves, and only the dispatcher starts
        batches; greedy False: a batch waits for max_batch_size items or the deadline even while a job is
        idle."""
        self.core.b.manual_clock = True
        self.core.b.greedy = greedy

    def _advance_us(self, int64_t us):
        with nogil:
            self.core.b.advance_clock(us * 1000)

    def _queued(self):
        """Tests: how many items wait for a batch."""
        return self.core.b.queued()

    def _fail_next_batch(self, str error):
        """Tests: the next batch started fails with this error, as a failed inference would."""
        self.core.b.set_fail_next(error.encode())


def _settle(future, outcome):
    if future.done():
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


def _deliver(owner, _Core core):
    """The callback thread: takes the answered start_async items, a batch at once, and calls back each."""
    cdef vector[ovfb_item*] done
    cdef bint more = True
    cdef ovfb_item* it
    while more:
        done.clear()
        with nogil:
            more = core.b.take_callbacks(done)
        batcher = owner()
        for i in range(done.size()):
            it = done[i]
            if batcher is not None:
                (<DynamicBatcher>batcher)._call_back(it)
            _drop(it)
        batcher = None

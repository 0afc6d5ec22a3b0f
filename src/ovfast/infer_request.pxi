# InferRequest: one ov_infer_request_t, its inputs, and its completion state.

# A request may still run (started by Python, or held as a job by C code through api.pxd) while a cycle
# through it is collected: the Tensors and arrays its inputs hold are memory it reads, and must stay until
# the request itself goes (its __dealloc__ waits for the run).
@cython.no_gc_clear
cdef class InferRequest:
    """openvino.InferRequest's API on the C API; blocking calls run without the GIL."""

    def __init__(self, *args, **kwargs):
        raise TypeError("InferRequest is made by CompiledModel.create_infer_request()")

    def __dealloc__(self):
        if self.state != NULL:
            # OpenVINO marks a request idle before its callback has run: wait for our callback to finish
            # with the state before freeing it (with the request and its tensors, which it owns). Nothing
            # here waits for Python: a request whose Python callback is pending is kept alive by the pump,
            # and a job's queue settles its jobs when it goes.
            with nogil:
                if self.req != NULL:
                    ov_infer_request_wait(self.req)
                if self.state.pool != NULL:   # freed before its queue: nothing will run its callback now
                    ovf_pool_abandon_job(<ovf_pool*>self.state.pool, self.state)
                self.state.wait_settled(-1)
                ovf_request_state_free(self.state)
            self.state = NULL
            self.req = NULL

    # --- inputs -------------------------------------------------------------------------------------

    cdef int _check_idle(self) except -1:
        if self._busy or not self.state.is_settled():
            raise _exc.RequestBusy("this InferRequest is running; wait() for it, or give each thread its own "
                                   "request", -8)
        if ovf_holder_keeps(self.state.holder.load()):
            raise _exc.RequestBusy("this InferRequest is a job of an AsyncInferQueue held by imap() or by C code "
                                   "(ovfast's C API) until they hand it back", -8)
        return 0

    cdef int _take(self) except -1:
        """Claims the request for a run before anything of the run touches it; release with _give_back().

        The check and the claim happen without releasing the GIL, so of two threads one gets RequestBusy
        before it has written an input (numpy's conversions release the GIL). A job of a live
        AsyncInferQueue is taken from its pool, so the queue cannot start it meanwhile."""
        self._check_idle()
        if self.state.pool != NULL and ovf_pool_acquire(<ovf_pool*>self.state.pool, self.state.job_id, 0,
                                                        True) < 0:
            raise _exc.RequestBusy("this InferRequest is a job of an AsyncInferQueue, which is running it; "
                                   "wait for the queue, or use a request of your own", -8)
        self._busy = True
        return 0

    cdef _give_back(self, bint to_pool):
        cdef vector[int] ids
        self._busy = False
        if to_pool and self.state.pool != NULL:
            ids.push_back(self.state.job_id)
            ovf_pool_release(<ovf_pool*>self.state.pool, ids, False)

    def set_input_tensor(self, *args):
        """set_input_tensor(tensor) for a one-input model, or set_input_tensor(index, tensor)."""
        if len(args) == 1:
            i, tensor = port_or_only(self.cm._inputs, self.cm._in_names, None, "input", "tensor"), args[0]
        elif len(args) == 2:
            i, tensor = port_index(self.cm._inputs, self.cm._in_names, args[0], "input", "tensor"), args[1]
        else:
            raise TypeError("set_input_tensor(tensor) or set_input_tensor(index, tensor)")
        self._set_tensor_at(True, i, tensor)

    def set_input_tensors(self, *args):
        """set_input_tensors({index or name: tensor}) sets several inputs; set_input_tensors([tensors]) (the
        model's only input) or set_input_tensors(index, [tensors]) gives one input a batch of tensors, one per
        item of its batch dimension, as openvino."""
        if len(args) == 1 and isinstance(args[0], dict):
            for k, t in args[0].items():
                self._set_tensor_at(True, port_index(self.cm._inputs, self.cm._in_names, k, "input", "tensor"), t)
        elif len(args) == 1:
            self._set_batch(-1, args[0])   # OpenVINO checks the model has one input, in its words
        elif len(args) == 2:
            self._set_batch(port_index(self.cm._inputs, self.cm._in_names, args[0], "input", "tensor"), args[1])
        else:
            raise TypeError("set_input_tensors(dict), set_input_tensors(list) or set_input_tensors(index, list)")

    cdef _set_batch(self, Py_ssize_t i, object tensors):
        cdef vector[ov_tensor_t*] items
        self._check_idle()
        tensors = list(tensors)
        for t in tensors:
            if not isinstance(t, Tensor):
                raise _exc.InputTypeError(f"set_input_tensors takes ovfast.Tensors, got {type(t).__name__}; wrap "
                                          f"arrays with ovfast.Tensor(array)")
            items.push_back((<Tensor>t).ptr)
        try:
            ovf_set_input_tensors(self.req, i, items)
        except RuntimeError as e:
            raise bridge_error("set_input_tensors", e) from None
        i = max(i, 0)
        self.inputs.held[i] = tensors   # the request reads them at each run
        self.state.in_own_set[i] = 0

    def set_output_tensor(self, *args):
        if len(args) == 1:
            i, tensor = port_or_only(self.cm._outputs, self.cm._out_names, None, "output", "tensor"), args[0]
        elif len(args) == 2:
            i, tensor = port_index(self.cm._outputs, self.cm._out_names, args[0], "output", "tensor"), args[1]
        else:
            raise TypeError("set_output_tensor(tensor) or set_output_tensor(index, tensor)")
        self._set_tensor_at(False, i, tensor)

    def set_output_tensors(self, outputs):
        items = outputs.items() if isinstance(outputs, dict) else enumerate(outputs)
        for k, t in items:
            self._set_tensor_at(False, port_index(self.cm._outputs, self.cm._out_names, k, "output", "tensor"), t)

    def set_tensor(self, key, tensor):
        is_input, i = self._locate(key)
        self._set_tensor_at(is_input, i, tensor)

    def set_tensors(self, tensors):
        for k, t in tensors.items():
            self.set_tensor(k, t)

    cdef _set_tensor_at(self, bint is_input, Py_ssize_t i, object tensor):
        cdef Tensor t
        self._check_idle()
        if not isinstance(tensor, Tensor):
            raise _exc.InputTypeError(f"expected an ovfast.Tensor, got {type(tensor).__name__}; wrap arrays "
                                      f"with ovfast.Tensor(array)")
        t = <Tensor>tensor
        if is_input:
            self.inputs.set_tensor(i, t)
            return
        port = <ConstOutput>self.cm._outputs[i]
        if t.ctype != port.ctype:
            raise _exc.InputTypeError(f"output '{port._any_name}' is {type_label(port.ctype)}, got a "
                                      f"{type_label(t.ctype)} tensor")
        check_ctx(ov_infer_request_set_output_tensor_by_index(self.req, i, t.ptr),
                  f"setting output '{port._any_name}'")
        self.held_outputs[i] = t
        self._cache_output(i)

    cdef int _cache_output(self, Py_ssize_t j) except -1:
        """Remembers output j's tensor and data pointer (static outputs on plain CPU only)."""
        cdef ov_tensor_t* t = NULL
        cdef void* d = NULL
        cdef ConstOutput port = <ConstOutput>self.cm._outputs[j]
        cdef ovf_request_state* s = self.state
        if s.out_cache.empty():
            return 0
        if s.out_cache[j] != NULL:
            ov_tensor_free(s.out_cache[j])
            s.out_cache[j] = NULL
            s.out_data[j] = NULL
        if port.dynamic or port.npy < 0 or is_packed(port.ctype):
            return 0
        check(ov_infer_request_get_output_tensor_by_index(self.req, j, &t), b"get_output_tensor")
        if tensor_dims(t) != port.dims or ov_tensor_data(t, &d) != OK:
            ov_tensor_free(t)
            return 0
        s.out_cache[j] = t
        s.out_data[j] = d
        return 0

    cdef tuple _locate(self, object key):
        """(is_input, index) of the port named by key (a name or a port)."""
        if isinstance(key, ConstOutput):
            return (<ConstOutput>key).is_input, port_index(
                self.cm._inputs if (<ConstOutput>key).is_input else self.cm._outputs,
                self.cm._in_names if (<ConstOutput>key).is_input else self.cm._out_names, key, "port", "tensor")
        if hasattr(key, "get_any_name"):
            key = key.get_any_name()
        if isinstance(key, str):
            if key in self.cm._in_names:
                return True, self.cm._in_names[key]
            if key in self.cm._out_names:
                return False, self.cm._out_names[key]
        else:   # as openvino: a key of another kind is a TypeError
            raise _exc.InputTypeError(f"a tensor is named by a str or a port, got {type(key).__name__} {key!r}")
        raise _exc.says(_exc.InputKeyError, "unknown name",
                        f"{key!r} names no input or output of this model; inputs are "
                        f"{[p.any_name for p in self.cm._inputs]}, outputs {[p.any_name for p in self.cm._outputs]}",
                        name=key)

    # --- outputs ------------------------------------------------------------------------------------

    cdef Tensor _tensor_at(self, bint is_input, Py_ssize_t i):
        cdef ov_tensor_t* t = NULL
        if is_input:
            check(ov_infer_request_get_input_tensor_by_index(self.req, i, &t), b"get_input_tensor")
        else:
            check(ov_infer_request_get_output_tensor_by_index(self.req, i, &t), b"get_output_tensor")
        return wrap_tensor(t, None)

    def get_tensor(self, key):
        is_input, i = self._locate(key)
        return self._tensor_at(is_input, i)

    def get_input_tensor(self, index=None):
        return self._tensor_at(True, port_or_only(self.cm._inputs, self.cm._in_names, index, "input", "tensor"))

    def get_output_tensor(self, index=None):
        return self._tensor_at(False, port_or_only(self.cm._outputs, self.cm._out_names, index, "output", "tensor"))

    @property
    def input_tensors(self):
        return [self._tensor_at(True, i) for i in range(len(self.cm._inputs))]

    @property
    def output_tensors(self):
        return [self._tensor_at(False, i) for i in range(len(self.cm._outputs))]

    cdef OVDict _results(self, bint share, bint decode=True):
        """The outputs as an OVDict: fresh arrays, or views of the output tensors when share."""
        cdef Py_ssize_t j, k, n = len(self.cm._outputs)
        cdef ov_tensor_t* t = NULL
        cdef ov_shape_t s
        cdef void* data = NULL
        cdef ConstOutput port
        cdef cnp.npy_intp dims[MAX_RANK]
        cdef list values = [None] * n
        for j in range(n):
            port = <ConstOutput>self.cm._outputs[j]
            if not share and not self.state.out_data.empty() and self.state.out_data[j] != NULL:
                for k in range(port.rank):
                    dims[k] = port.dims[k]
                arr = cnp.PyArray_EMPTY(port.rank, dims, port.npy, 0)
                memcpy(cnp.PyArray_DATA(<cnp.ndarray>arr), self.state.out_data[j], port.nbytes)
                values[j] = arr
                continue
            check(ov_infer_request_get_output_tensor_by_index(self.req, j, &t), b"get_output_tensor")
            if port.ctype == STRING:  # str (or, decode=False, bytes) arrays, as openvino gives them
                out = wrap_tensor(t, None)
                values[j] = out.str_data if decode else out.bytes_data
                continue
            if share or port.dynamic or port.npy < 0 or is_packed(port.ctype):
                values[j] = wrap_tensor(t, None).view()
                if not share:
                    values[j] = values[j].copy()
                continue
            try:
                check(ov_tensor_data(t, &data), b"ov_tensor_data")
                for k in range(port.rank):
                    dims[k] = port.dims[k]
                arr = cnp.PyArray_EMPTY(port.rank, dims, port.npy, 0)
                memcpy(cnp.PyArray_DATA(<cnp.ndarray>arr), data, port.nbytes)
                values[j] = arr
            finally:
                ov_tensor_free(t)
        return make_ovdict(self.cm._outputs, values, self.cm._out_names)

    @property
    def results(self):
        return self._results(False)

    # --- running ------------------------------------------------------------------------------------

    cpdef OVDict infer(self, inputs=None, bint share_inputs=False, bint share_outputs=False,
                       decode_strings=True):
        cdef ov_status_e st
        cdef int64_t t0, t1
        self._take()
        try:
            set_inputs(self.inputs, inputs, self.cm._in_names, share_inputs)
            with nogil:
                t0 = ovf_now_ns()
                st = ov_infer_request_infer(self.req)
                t1 = ovf_now_ns()
        finally:
            self._give_back(True)
        self.state.t_start_ns = t0  # the one record of the last run's times, whichever path ran it
        self.state.t_end_ns = t1
        check(st, b"infer")
        return self._results(share_outputs, decode_strings)

    def start_async(self, inputs=None, userdata=None, bint share_inputs=False):
        cdef ov_status_e st
        cdef int holder
        self._errors.raise_kept()
        self._take()
        try:
            set_inputs(self.inputs, inputs, self.cm._in_names, share_inputs)
        except BaseException:
            self._give_back(True)
            raise
        if userdata is not None:  # one userdata slot, shared with set_callback, as in openvino
            self._userdata = userdata
        if self.state.pool != NULL:
            # a job of a live queue: its completion goes through the pool, and its Python callback is the
            # queue's (with the job's queue userdata), as in openvino
            holder = OVF_QUEUE_CALLBACK if (<ovf_pool*>self.state.pool).python_callbacks else OVF_QUEUE
        else:
            holder = OVF_DIRECT_CALLBACK if self._callback is not None else OVF_DIRECT
        if holder == OVF_DIRECT_CALLBACK:
            _pump_expect(self)
        self._busy = False  # from here on `started` says it runs
        with nogil:
            st = ovf_job_start(self.state, holder)
        if st != OK:
            self._give_back(True)
            if holder == OVF_DIRECT_CALLBACK:
                _pump_forget(self)
            check(st, b"start_async")

    def wait(self):
        """Waits for the running inference (and its callback); returns at once if none was started."""
        self._wait(-1)
        self._errors.raise_kept()

    def wait_for(self, timeout):
        """Waits up to timeout milliseconds; True when the result (and its callback) is done."""
        if not isinstance(timeout, (int, np.integer)) or isinstance(timeout, bool):
            raise TypeError(f"wait_for(timeout): timeout is an int of milliseconds, got {type(timeout).__name__}")
        done = self._wait(int(timeout))
        if done:
            self._errors.raise_kept()
        return done

    cdef bint _wait(self, int64_t timeout_ms) except -1:
        cdef ov_status_e st = OK
        cdef int64_t t0
        if self.state.started.load() == 0 and timeout_ms < 0:
            return True  # never started: OpenVINO's wait() returns (its wait_for() asks OpenVINO)
        t0 = ovf_now_ns()
        if wait_sliced(WAIT_INFERENCE, NULL, self.state, timeout_ms, self._errors, None, -1, True, &st) < 0:
            return False
        if st != OK:
            with nogil:
                self.state.wait_settled(-1)  # our callback's part: microseconds, no Python
            check(st, b"wait")
        if _in_callback_thread():
            # A callback waits for the inference only: the waited request's own callback may queue behind
            # this one, on this very thread.
            return True
        if timeout_ms >= 0:
            timeout_ms = max(0, timeout_ms - (ovf_now_ns() - t0) // 1000000)
        return wait_sliced(WAIT_SETTLED, NULL, self.state, timeout_ms, self._errors) >= 0

    def cancel(self):
        check(ov_infer_request_cancel(self.req), b"cancel")

    def set_callback(self, callback, userdata=None):
        """callback(userdata) runs on ovfast's callback thread, with the GIL, after each start_async; wait()
        returns after it. userdata is the request's one slot, which start_async(..., userdata) replaces.
        What the callback raises is raised by the next wait(), wait_for() or start_async()."""
        if callback is not None and not callable(callback):
            raise TypeError(f"callback must be callable, got {type(callback).__name__}")
        self._check_idle()
        if self.state.pool != NULL:
            raise RuntimeError("this InferRequest is a job of an AsyncInferQueue, whose callback runs for it: "
                               "set the callback on the queue")
        self._callback = callback
        self._userdata = userdata
        if callback is not None:
            _ensure_pump()

    @property
    def userdata(self):
        return self._userdata

    @property
    def latency(self):
        """Milliseconds the last inference took (sync: infer(); async: start to completion)."""
        cdef int64_t t_start = self.state.t_start_ns, t_end = self.state.t_end_ns
        if t_end < t_start:  # still running (the callback sees it finished)
            return 0.0
        return (t_end - t_start) / 1e6

    # --- introspection ------------------------------------------------------------------------------

    @property
    def model_inputs(self):
        return list(self.cm._inputs)

    @property
    def model_outputs(self):
        return list(self.cm._outputs)

    @property
    def inputs(self):
        return self.input_tensors

    @property
    def outputs(self):
        return self.output_tensors

    def get_compiled_model(self):
        return self.cm

    def get_profiling_info(self):
        cdef ov_profiling_info_list_t infos
        cdef size_t k
        with nogil:
            st = ov_infer_request_get_profiling_info(self.req, &infos)
        check(st, b"get_profiling_info")
        try:
            out = []
            for k in range(infos.size):
                p = infos.profiling_infos[k]
                out.append(_records.ProfilingInfo(
                    status=p.status, real_time_us=p.real_time, cpu_time_us=p.cpu_time,
                    node_name=p.node_name.decode("utf-8") if p.node_name else "",
                    exec_type=p.exec_type.decode("utf-8") if p.exec_type else "",
                    node_type=p.node_type.decode("utf-8") if p.node_type else ""))
            return out
        finally:
            ov_profiling_info_list_free(&infos)

    @property
    def profiling_info(self):
        return self.get_profiling_info()

    def query_state(self):
        """The variable states of a stateful model (ReadValue/Assign), as openvino.VariableState."""
        self._check_idle()
        return query_states(self)

    def reset_state(self):
        """Resets every variable state to its initial value (between generations, as optimum-intel does)."""
        self._check_idle()
        reset_states(self)

    def __repr__(self):
        return f"<InferRequest: inputs {[p.any_name for p in self.cm._inputs]}>"




cdef InferRequest make_request(CompiledModel cm):
    cdef InferRequest r = InferRequest.__new__(InferRequest)
    cdef ov_infer_request_t* req = NULL
    cdef ov_status_e st
    cdef Py_ssize_t j, n_out = len(cm._outputs)
    r.cm = cm
    r._errors = _CallbackErrors.__new__(_CallbackErrors)
    r.state = ovf_request_state_new()
    with nogil:
        st = ov_compiled_model_create_infer_request(cm.ptr, &req)
    check(st, b"create_infer_request")
    r.state.request = r.req = req
    if not ovf_request_set_callback(req, r.state):
        raise RuntimeError("OpenVINO refused the completion callback of a new request")
    r.inputs = _InputSlots.__new__(_InputSlots)
    r.inputs.setup(r.state, cm._inputs)
    r.held_outputs = [None] * n_out
    if cm.cache_outputs:
        r.state.out_cache.assign(n_out, NULL)
        r.state.out_data.assign(n_out, NULL)
        for j in range(n_out):
            r._cache_output(j)
    return r

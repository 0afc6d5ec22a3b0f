# Whole batches on a queue: map() drives every job itself without the GIL, imap() keeps every job busy and
# yields in order. Both hold their jobs (MAP, IMAP) through the pool's state machine, as any holder does.

cdef OVDict _map(AsyncInferQueue q, _MapPlan plan):
    """map()'s run: every job held, round robin over the items, each read with wait."""
    cdef Py_ssize_t n_items = plan.n
    cdef int n_jobs = len(q._jobs)
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
        reqs.push_back((<InferRequest>q._jobs[id]).req)
        every.push_back(id)
    q.wait_all()
    wait_sliced(WAIT_EVERY_JOB, q.h.pool, NULL, -1, q._errors, q)
    try:
        for id in range(n_jobs):
            q._check_job(id)   # a run another thread started between wait_all and here
        saved = _BoundTensors(q._jobs, len(q.cm._inputs), len(q.cm._outputs))
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
                    # costs a measurable share of the rate on small models.
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
                if not ovf_request_set_callback(reqs[id], (<InferRequest>q._jobs[id]).state):
                    raise RuntimeError(f"map: OpenVINO refused to give job {id} its completion callback back")
            saved.restore()
    finally:
        with nogil:
            ovf_pool_release(q.h.pool, every, False)
    return plan.result()


def _imap(AsyncInferQueue q, iterable, bint share_inputs):
    """imap()'s generator: the checks run at its first step, as openvino-style generators do."""
    cdef int n_jobs = len(q._jobs)
    cdef int id
    cdef InferRequest req
    q._errors.raise_kept()
    q._refuse_waiting_for_all("imap()")
    q.wait_all()
    me = _thread.get_ident()
    pending = collections.deque()   # (job id, item index), oldest first
    held = []                       # the jobs this imap holds
    try:
        for index, item in enumerate(iterable):
            if len(held) < n_jobs:
                id = q._acquire(-1)
                held.append(id)
                q._imap_held[me] = q._imap_held.get(me, 0) + 1
                result = None
            else:
                id, done_index = pending.popleft()
                result = _held_result(q, id, done_index)
            req = <InferRequest>q._jobs[id]
            set_inputs(req.inputs, item, q.cm._in_names, share_inputs)
            q._start(id, OVF_IMAP, True)
            pending.append((id, index))
            if result is not None:
                yield result
        while pending:
            id, index = pending.popleft()
            yield _held_result(q, id, index)
    finally:
        # done, failed or abandoned: the jobs finish what they run, then go back to the queue
        for id in held:
            req = <InferRequest>q._jobs[id]
            with nogil:
                ov_infer_request_wait(req.req)
                req.state.wait_settled(-1)
            req.state.checked = req.state.started.load()
            q._give_back(id)
        if held:
            left = q._imap_held[me] - len(held)
            if left:
                q._imap_held[me] = left
            else:
                del q._imap_held[me]


cdef OVDict _held_result(AsyncInferQueue q, int id, Py_ssize_t index):
    """The result of item `index`, which job `id` (held by imap) ran."""
    cdef InferRequest req = <InferRequest>q._jobs[id]
    cdef ov_status_e st
    with nogil:
        st = ov_infer_request_wait(req.req)
        req.state.wait_settled(-1)
    req.state.checked = req.state.started.load()
    check_ctx(st, f"imap: item {index} (job {id})")
    return req._results(False)


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


# Binding a tensor to a request costs the CPU plugin about as much as copying 16 KiB, so map() copies items
# up to this size through tensors of its own, bound once per job, and binds larger ones zero-copy.
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
        given = values_by_port(cm._inputs, cm._in_names, inputs, "input")
        missing = [p.any_name for p, v in zip(cm._inputs, given) if v is NOT_GIVEN or v is None]
        if missing:
            raise _exc.InputValueError(f"map needs every input; missing {missing}")
        self.n = -1
        for port in cm._inputs:
            arr = self._add(<ConstOutput>port, given[(<ConstOutput>port).idx], "input")
        self.n_in = len(cm._inputs)
        self.out_arrays = []
        want = values_by_port(cm._outputs, cm._out_names, outputs, "output") if outputs is not None else None
        for port in cm._outputs:
            arr = None if want is None else want[(<ConstOutput>port).idx]
            if arr is NOT_GIVEN:
                arr = None  # map allocates it
            self.out_arrays.append(self._add(<ConstOutput>port, arr, "output"))

    cdef object _add(self, ConstOutput port, object value, str what):
        cdef dims_t d
        cdef bint copy_items
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
        # A read-only input (Ray's zero-copy columns, a read-only mapping) is read item by item into the
        # job's own tensor, never bound (ovfast binds only memory it may write) nor copied whole.
        copy_items = port.nbytes <= MAP_COPY_MAX_BYTES
        if what == "input" and not cnp.PyArray_ISWRITEABLE(<cnp.ndarray>arr):
            copy_items = True
        self.copied.push_back(copy_items)
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

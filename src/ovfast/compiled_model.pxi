# CompiledModel: an ov_compiled_model_t and its ports, read once.

cdef class CompiledModel:
    """openvino.CompiledModel's API on the C API."""

    def __init__(self, *args, **kwargs):
        raise TypeError("CompiledModel is made by ovfast.compile_model() or Core.compile_model()")

    def __dealloc__(self):
        cdef ovf_altstack alt
        if self.ptr != NULL:
            ovf_altstack_save(&alt)   # the last hold on a plugin instance may be this model's (_altstack.h)
            ov_compiled_model_free(self.ptr)
            ovf_altstack_restore(&alt)
            self.ptr = NULL

    cdef int _read_ports(self) except -1:
        cdef size_t n = 0, i
        cdef ov_output_const_port_t* p = NULL
        ports = []
        check(ov_compiled_model_inputs_size(self.ptr, &n), b"inputs_size")
        for i in range(n):
            check(ov_compiled_model_input_by_index(self.ptr, i, &p), b"input_by_index")
            try:
                ports.append(make_port(p, i, True))
            finally:
                ov_output_const_port_free(p)
        self._inputs = tuple(ports)
        ports = []
        check(ov_compiled_model_outputs_size(self.ptr, &n), b"outputs_size")
        for i in range(n):
            check(ov_compiled_model_output_by_index(self.ptr, i, &p), b"output_by_index")
            try:
                ports.append(make_port(p, i, False))
            finally:
                ov_output_const_port_free(p)
        self._outputs = tuple(ports)
        self._in_names = _names_of(self._inputs)
        self._out_names = _names_of(self._outputs)
        return 0

    @property
    def inputs(self):
        return list(self._inputs)

    @property
    def outputs(self):
        return list(self._outputs)

    def input(self, key=None):
        return self._inputs[port_or_only(self._inputs, self._in_names, key, "input")]

    def output(self, key=None):
        return self._outputs[port_or_only(self._outputs, self._out_names, key, "output")]

    cpdef InferRequest create_infer_request(self):
        return make_request(self)

    def __call__(self, inputs=None, bint share_inputs=True, bint share_outputs=False, decode_strings=True):
        """Runs one inference on a request this model keeps for these calls; safe from any number of
        threads at once, each call on a request of its own."""
        return self._infer_pooled(inputs, share_inputs, share_outputs, decode_strings)

    def infer_new_request(self, inputs=None):
        """One inference whose inputs are copied and whose results are fresh arrays (openvino makes a new
        request each time; ovfast reuses an idle one, which gives the same results)."""
        return self._infer_pooled(inputs, False, False)

    cdef OVDict _infer_pooled(self, inputs, bint share_inputs, bint share_outputs, bint decode=True):
        # An idle request of the pool, or a new one when every one is busy in another thread: the pool grows
        # to the number of threads that call at once. list.pop/append are atomic under the GIL.
        if self._idle_requests is None:
            self._idle_requests = []
        try:
            req = self._idle_requests.pop()
        except IndexError:
            req = make_request(self)
        try:
            return (<InferRequest>req).infer(inputs, share_inputs, share_outputs, decode)
        finally:
            self._idle_requests.append(req)

    def export_model(self, model_stream=None):
        """The compiled blob in a BytesIO (as openvino), or written into model_stream (a binary file)."""
        cdef ov_status_e st
        if model_stream is not None and not hasattr(model_stream, "write"):
            raise _exc.says(_exc.InputTypeError, "export stream", f"(export_model writes into a binary file "
                            f"object, got {type(model_stream).__name__})", value=model_stream)
        fd, path = tempfile.mkstemp(prefix="ovfast-export-", suffix=".blob")
        os.close(fd)
        cdef bytes bpath = os.fsencode(path)
        cdef const char* cpath = bpath
        try:
            with nogil:
                st = ov_compiled_model_export_model(self.ptr, cpath)
            check(st, b"export_model")
            with open(path, "rb") as f:
                blob = f.read()
        finally:
            os.unlink(path)
        if model_stream is None:
            return io.BytesIO(blob)
        model_stream.write(blob)

    def get_property(self, name):
        return _sugar.compiled_get_property(self, name)

    def _property_text(self, str key):
        """A property's value as the C API gives it: text."""
        cdef char* value = NULL
        cdef bytes bkey = key.encode()
        check_ctx(ov_compiled_model_get_property(self.ptr, bkey, &value), f"get_property({key!r})")
        try:
            return value.decode("utf-8")
        finally:
            ov_free(value)

    def set_property(self, properties, value=None):
        if value is not None:
            properties = {properties: value}
        cdef _PropertyList props = _PropertyList(_properties.to_pairs(properties))
        check_ctx(ov_compiled_model_set_properties(self.ptr, props.n, props.items), "set_property")

    def get_runtime_model(self):
        """The runtime (execution) graph as an openvino.Model. The C API gives it only as a C handle, which
        cannot become an openvino.Model in Python (and an execution graph's IR does not read back), so
        ovfast exports this compiled model, lets openvino import the blob on the same device, and returns
        that model's runtime graph: the same graph, at the cost of an export and an import per call."""
        devices = list(self.get_property("EXECUTION_DEVICES"))
        if len(devices) != 1:
            raise NotImplementedError(f"get_runtime_model: this model runs on {devices}; ovfast builds the runtime "
                                      f"model by export and import, which needs a single device")
        try:
            stream = self.export_model()
        except _exc.OVError as e:
            raise _exc.NotImplementedOVError(
                f"get_runtime_model: ovfast builds the runtime model by export and import, and this compiled "
                f"model cannot be exported (AUTO and MULTI cannot); compile on {devices[0]!r} itself to see its "
                f"runtime model. {e}", e.status) from None
        imported = (<Core>self.core)._openvino_core().import_model(stream, devices[0])
        return imported.get_runtime_model()

    cdef InferRequest _call_request(self):
        """The request __call__ and infer_new_request use next (the last one given back): the one whose
        state a single-threaded caller sees, as openvino's compiled model keeps one request for them."""
        if not self._idle_requests:
            self._idle_requests = [make_request(self)]
        return <InferRequest>self._idle_requests[-1]

    def query_state(self):
        """The variable states of the request that __call__ uses (openvino keeps one for it)."""
        return self._call_request().query_state()

    def reset_state(self):
        self._call_request().reset_state()

    @property
    def _infer_request(self):
        """The request __call__ uses next, under the name openvino gives the one request its __call__ keeps
        (programs read its tensors after a call)."""
        return self._call_request()

    def release_memory(self):
        """Frees the memory the device keeps between inferences (intermediate buffers, caches); the next
        inference allocates it again."""
        try:
            ovf_compiled_model_release_memory(self.ptr)
        except RuntimeError as e:
            raise _exc.OVError(f"release_memory: {e}") from None

    def __repr__(self):
        return f"<CompiledModel:\ninputs{list(self._inputs)}\noutputs{list(self._outputs)}>"


cdef dict _names_of(tuple ports):
    names = {}
    for p in ports:
        for n in (<ConstOutput>p)._names:
            names.setdefault(n, (<ConstOutput>p).idx)
        if (<ConstOutput>p)._any_name:
            names.setdefault((<ConstOutput>p)._any_name, (<ConstOutput>p).idx)
    return names


cdef class _PropertyList:
    """Property (key, text) pairs, as _properties.to_pairs makes them, as the C API's array of string pairs
    (kept alive by this object)."""
    cdef list _keep
    cdef ov_property_t* items
    cdef size_t n

    def __cinit__(self, list pairs):
        self._keep = []
        self.n = len(pairs)
        self.items = <ov_property_t*>calloc(max(self.n, 1), sizeof(ov_property_t))
        if self.items == NULL:
            raise MemoryError()
        for i, (k, v) in enumerate(pairs):
            bk, bv = k.encode(), v.encode()
            self._keep += [bk, bv]
            self.items[i].key = <const char*>bk
            self.items[i].value = <const void*><const char*>bv

    def __dealloc__(self):
        free(self.items)

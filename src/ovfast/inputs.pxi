# Turning user inputs into the request's input tensors.
#
# A static input gets one tensor of its own, allocated once; arrays are copied into it unless sharing was
# asked. A zero-copy tensor over the caller's array is made when sharing was asked and the array is
# C-contiguous, writable and already of the port's type, whatever its size (as openvino does). Dynamic
# inputs always get a tensor of the array's shape.


cdef str _describe(object value):
    if isinstance(value, np.ndarray):
        return f"{value.dtype}{list(value.shape)}"
    return type(value).__name__


cdef class _InputSlots:
    """The input side of one request: what the request currently holds, over the request's state (which
    owns our own input tensors)."""

    cdef int setup(self, ovf_request_state* s, tuple ports) except -1:
        cdef Py_ssize_t i
        cdef ov_tensor_t* t = NULL
        cdef void* d = NULL
        cdef ConstOutput port
        self.s = s
        self.ports = ports
        self.n = len(ports)
        self.held = [None] * self.n
        s.in_own.assign(self.n, NULL)
        s.in_own_data.assign(self.n, NULL)
        s.in_own_set.assign(self.n, 0)
        for i in range(self.n):
            port = <ConstOutput>ports[i]
            if port.dynamic or port.npy < 0 or is_packed(port.ctype):
                continue
            # The request already allocated a tensor for a static input: adopt it as our own.
            check(ov_infer_request_get_input_tensor_by_index(s.request, i, &t), b"ov_infer_request_get_input_tensor")
            s.in_own[i] = t
            check(ov_tensor_data(t, &d), b"ov_tensor_data")
            s.in_own_data[i] = d
            s.in_own_set[i] = 1
        return 0

    cdef int set_string(self, Py_ssize_t i, ConstOutput port, object value) except -1:
        """A string input: str or bytes elements (a numpy array, a list, ...), copied into a string tensor."""
        arr = value if isinstance(value, np.ndarray) else np.asarray(value)
        if arr.dtype.kind not in "USO":
            raise _exc.InputTypeError(f"input '{port._any_name}' is {port._label()}: it takes str or bytes "
                                      f"elements, got {_describe(value)}")
        if (port.rank >= 0 and arr.ndim != port.rank) or (not port.dynamic and tuple(arr.shape) != tuple(port.dims)):
            self.shape_error(port, arr)
        return self.set_tensor(i, string_tensor(arr))

    cdef int set_tensor(self, Py_ssize_t i, Tensor t) except -1:
        cdef ConstOutput port = <ConstOutput>self.ports[i]
        check_tensor_type(port, t)
        if not port.dynamic and tensor_dims(t.ptr) != port.dims:
            raise _exc.InputValueError(f"input '{port._any_name}' expects {port._label()}, got "
                                       f"{type_label(t.ctype)}{list(tensor_dims(t.ptr))}")
        check_ctx(ov_infer_request_set_input_tensor_by_index(self.s.request, i, t.ptr),
                  f"setting input '{port._any_name}'")
        self.held[i] = t
        self.s.in_own_set[i] = 0
        return 0

    cdef int set_value(self, Py_ssize_t i, object value, bint share) except -1:
        cdef ConstOutput port = <ConstOutput>self.ports[i]
        cdef cnp.ndarray arr
        cdef Py_ssize_t k, nd
        cdef cnp.npy_intp* shape
        if type(value) is Tensor:
            return self.set_tensor(i, <Tensor>value)
        if not cnp.PyArray_CheckExact(value) and isinstance(value, _ov.Tensor):
            value = value.data
        if port.ctype == STRING:
            return self.set_string(i, port, value)
        if port.npy < 0 or is_packed(port.ctype):
            raise _exc.InputTypeError(
                f"input '{port._any_name}' is of type {type_label(port.ctype)}: pass an ovfast.Tensor of that "
                f"type (for packed types, Tensor(packed_uint8, shape, type)), got {_describe(value)}")
        arr = as_array(port, value)
        nd = cnp.PyArray_NDIM(arr)
        if port.dynamic:
            if port.rank >= 0 and nd != port.rank:
                self.shape_error(port, arr)
        else:
            shape = cnp.PyArray_DIMS(arr)
            if nd != port.rank:
                self.shape_error(port, arr)
            for k in range(nd):
                if shape[k] != <cnp.npy_intp>port.dims[k]:
                    self.shape_error(port, arr)
        if cnp.PyArray_TYPE(arr) != port.npy or not cnp.PyArray_ISNOTSWAPPED(arr):
            arr = self.convert(port, arr)
        if port.dynamic:
            return self.set_dynamic(i, port, arr, share)
        if share and cnp.PyArray_ISCARRAY(arr):
            held = self.held[i]
            if (type(held) is Tensor and (<Tensor>held)._owner is arr
                    and (<Tensor>held).data_ptr() == cnp.PyArray_DATA(arr)):
                return 0  # already bound to this very array: rebinding would cost the plugin, not change it
            return self.set_tensor(i, tensor_over(arr, port.ctype, None))
        if not self.s.in_own_set[i]:
            check_ctx(ov_infer_request_set_input_tensor_by_index(self.s.request, i, self.s.in_own[i]),
                      f"setting input '{port._any_name}'")
            self.s.in_own_set[i] = 1
            self.held[i] = None
        if cnp.PyArray_IS_C_CONTIGUOUS(arr):
            memcpy(self.s.in_own_data[i], cnp.PyArray_DATA(arr), port.nbytes)
        else:
            cnp.PyArray_CopyInto(self.own_view(i, port), arr)
        return 0

    cdef object own_view(self, Py_ssize_t i, ConstOutput port):
        cdef cnp.npy_intp dims[MAX_RANK]
        cdef Py_ssize_t k
        for k in range(port.rank):
            dims[k] = port.dims[k]
        return cnp.PyArray_SimpleNewFromData(port.rank, dims, port.npy, self.s.in_own_data[i])

    cdef int set_dynamic(self, Py_ssize_t i, ConstOutput port, cnp.ndarray arr, bint share) except -1:
        if share and cnp.PyArray_ISCARRAY(arr):
            return self.set_tensor(i, tensor_over(arr, port.ctype, None))
        return self.set_tensor(i, tensor_copy_of(arr, port.ctype))

    cdef cnp.ndarray convert(self, ConstOutput port, cnp.ndarray arr):
        return convert_array(port, arr)

    cdef int shape_error(self, ConstOutput port, cnp.ndarray arr) except -1:
        return shape_error(port, arr)


cdef inline cnp.ndarray as_array(ConstOutput port, object value):
    if cnp.PyArray_Check(value):
        return <cnp.ndarray>value
    try:
        return np.asarray(value)
    except Exception as e:
        raise _exc.InputTypeError(f"input '{port._any_name}' expects {port._label()}, got "
                                  f"{_describe(value)} which numpy cannot convert: {e}") from None


cdef cnp.ndarray convert_array(ConstOutput port, cnp.ndarray arr):
    if arr.dtype.kind not in "biuf":
        raise _exc.UnsupportedDtype(f"input '{port._any_name}' expects {port._label()}, got "
                                    f"{_describe(arr)}: dtype {arr.dtype} cannot be converted to "
                                    f"{type_label(port.ctype)}")
    return arr.astype(cnp.PyArray_DescrFromType(port.npy))


cdef int check_tensor_type(ConstOutput port, Tensor t) except -1:
    if t.ctype != port.ctype:
        raise _exc.InputTypeError(f"input '{port._any_name}' expects a {type_label(port.ctype)} tensor, "
                                  f"got {type_label(t.ctype)}")
    return 0


cdef int shape_error(ConstOutput port, cnp.ndarray arr) except -1:
    raise _exc.InputValueError(f"input '{port._any_name}' expects {port._label()}, got {_describe(arr)}")


cdef list item_arrays(CompiledModel compiled, object inputs):
    """One item of a batch, as compiled(inputs) takes it on a model of batch 1 whose inputs are static,
    numeric and batched on their first axis: per input a C-contiguous array of the port's type holding
    port.nbytes, checked with infer()'s messages. The batch axis of 1 may be left out. For peers that run
    the model themselves (ovfast.DynamicBatcher)."""
    cdef tuple ports = compiled._inputs
    cdef ConstOutput port
    cdef cnp.ndarray arr
    cdef Py_ssize_t i, k, nd, skip
    cdef cnp.npy_intp* shape
    values = values_by_port(ports, compiled._in_names, inputs, "input")
    out = []
    for i in range(len(ports)):
        port = <ConstOutput>ports[i]
        value = values[i]
        if value is NOT_GIVEN:
            raise _exc.InputValueError(f"input '{port._any_name}' is missing: an item gives every input of the "
                                       f"model {[p.any_name for p in ports]}")
        if type(value) is Tensor:
            check_tensor_type(port, <Tensor>value)
            value = (<Tensor>value).view()
        elif not cnp.PyArray_CheckExact(value) and isinstance(value, _ov.Tensor):
            value = value.data
        arr = as_array(port, value)
        nd = cnp.PyArray_NDIM(arr)
        skip = 1 if nd == port.rank - 1 else 0   # the batch axis left out
        if nd + skip != port.rank:
            shape_error(port, arr)
        shape = cnp.PyArray_DIMS(arr)
        for k in range(nd):
            if shape[k] != <cnp.npy_intp>port.dims[k + skip]:
                shape_error(port, arr)
        if cnp.PyArray_TYPE(arr) != port.npy or not cnp.PyArray_ISNOTSWAPPED(arr):
            arr = convert_array(port, arr)
        if not cnp.PyArray_IS_C_CONTIGUOUS(arr):
            arr = np.ascontiguousarray(arr)
        if skip:
            arr = arr.reshape(port.dims)
        out.append(arr)
    return out


# Who names a port decides openvino's words for a bad key (_exc.says): a compiled model's input()/output()
# ("port"), a request's tensor accessors ("tensor"), the values of infer() ("values"), a result dict ("result").

cdef Py_ssize_t port_index(tuple ports, dict names, object key, str what, str caller="port") except -1:
    """Index of the port named by key: its index, any of its names, or the port itself. A result dict's
    lookup (caller "result") is openvino's OVDict's: an index is a Python int only, and one out of range
    is also an IndexError."""
    cdef ConstOutput port
    cdef Py_ssize_t n = len(ports)
    cdef bint result = caller == "result"
    if not result and isinstance(key, np.integer):
        key = int(key)
    if isinstance(key, int):
        if not -n <= key < n:
            detail = f"{what} index {key} out of range: the model has {n} {what}(s) {[p.any_name for p in ports]}"
            if result:   # openvino's KeyError names the key alone
                raise _exc.says(_exc.PortIndexError, "result key", f"is out of range: the model has {n} "
                                f"{what}(s) {[p.any_name for p in ports]}", key=key)
            if caller == "port":
                raise _exc.says(_exc.InputKeyError, f"{what} index", detail, index=key, n=n)
            if what == "input":
                raise _exc.says(_exc.InputKeyError, "input port index", detail, index=key, n=n)
            raise _exc.InputKeyError(detail)
        return key % n
    if isinstance(key, ConstOutput):
        port = <ConstOutput>key
        if port.idx < n and ports[port.idx] is port:
            return port.idx
        key = port._any_name
    elif hasattr(key, "get_any_name"):  # an openvino port of the source model
        key = key.get_any_name()
    if isinstance(key, str):
        i = names.get(key)
        if i is not None:
            return i
    else:   # as openvino: a key of another kind (a float, None) is a TypeError
        detail = f"an {what} is named by its index, a name or a port, got {type(key).__name__} {key!r}"
        if result:
            raise _exc.says(_exc.InputTypeError, "result key type", detail, type=type(key))
        if caller == "values":
            raise _exc.says(_exc.InputTypeError, "input key type", detail, key=key)
        raise _exc.InputTypeError(detail)
    detail = f"{key!r} is not an {what} of this model; {what}s are {[p.any_name for p in ports]} (or their index 0..{n - 1})"
    if result:
        raise _exc.says(_exc.InputKeyError, "result key", detail[len(repr(key)) + 1:], key=key)
    if caller == "port":
        raise _exc.says(_exc.InputKeyError, f"unknown {what}", detail, name=key)
    raise _exc.says(_exc.InputKeyError, "unknown name", detail, name=key)


cdef Py_ssize_t port_or_only(tuple ports, dict names, object key, str what, str caller="port") except -1:
    """port_index, where None (the key left out) names the model's only port."""
    if key is not None:
        return port_index(ports, names, key, what, caller)
    if len(ports) != 1:
        raise _exc.says(_exc.InputValueError, f"one {what}" if caller == "port" else f"only {what}",
                        f"the model has {len(ports)} {what}s: name one by index, name or port")
    return 0


# Where a dict of values leaves a port out.
cdef object NOT_GIVEN = object()


cdef object values_by_port(tuple ports, dict names, object values, str what):
    """values as infer() takes them (a list or tuple in port order, a dict by index, name or port, another
    model's results, or one value for a one-port model) as a sequence in port order, NOT_GIVEN where a
    dict leaves a port out. The one reading of that argument, for requests, queues and map."""
    cdef Py_ssize_t n = len(ports)
    if type(values) is OVDict:  # another model's results feed this one by position, as in openvino
        values = (<OVDict>values)._values
    if type(values) is list or type(values) is tuple:
        if len(values) != n:
            raise _exc.InputValueError(f"the model has {n} {what}(s) {[p.any_name for p in ports]}, got a "
                                       f"{type(values).__name__} of {len(values)}")
        for key, value in enumerate(values):
            _check_value_kind(value, key, ports[key])
        return values
    if isinstance(values, dict):
        out = [NOT_GIVEN] * n
        for key, value in (<dict>values).items():
            i = port_index(ports, names, key, what, "values")
            _check_value_kind(value, key, ports[i])
            out[i] = value
        return out
    detail = (f"the model has {n} {what}s {[p.any_name for p in ports]}: pass a dict or a list of {n} values, "
              f"not one {_describe(values)}")
    if n != 1 and _is_value(values):   # openvino sets one value as the only input's
        raise _exc.says(_exc.InputValueTypeError, "only input", detail)
    if n != 1 or not _is_value(values):
        raise _exc.says(_exc.InputValueTypeError, "inputs type", detail, type=type(values))
    return (values,)


cdef bint _is_value(object value):
    """Whether value can be an input's value: an array, a Tensor, a number, a sequence, or what numpy makes an
    array of (__array__)."""
    return (isinstance(value, (np.ndarray, np.generic, Tensor, _ov.Tensor, int, float, list, tuple, str, bytes))
            or hasattr(value, "__array__") or hasattr(value, "__array_interface__"))


cdef int _check_value_kind(object value, object key, ConstOutput port) except -1:
    if value is NOT_GIVEN or _is_value(value):
        return 0
    raise _exc.says(_exc.InputTypeError, "input type under key", f"(input '{port._any_name}' takes an array, a "
                    f"Tensor or a number, got {type(value).__name__})", type=type(value), key=key)


cdef int set_inputs(_InputSlots slots, object inputs, dict names, bint share) except -1:
    """Sets a request's inputs from what values_by_port reads."""
    cdef Py_ssize_t i
    if inputs is None:
        return 0
    values = values_by_port(slots.ports, names, inputs, "input")
    for i in range(slots.n):
        value = values[i]
        if value is not NOT_GIVEN:
            slots.set_value(i, value, share)
    return 0

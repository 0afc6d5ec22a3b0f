# Variable state of stateful models (ReadValue/Assign: how OpenVINO serves LLMs' KV caches). Not in the
# C API: reached through the ov::InferRequest behind the request's handle (_bridge.hpp).

cdef class VariableState:
    """One variable of a request: openvino.VariableState's `name`, `state` (get and set) and `reset()`."""
    cdef InferRequest request
    cdef str _name

    def __init__(self, *args, **kwargs):
        raise TypeError("VariableState is made by InferRequest.query_state()")

    @property
    def name(self):
        return self._name

    @property
    def state(self):
        """The variable's tensor, sharing the plugin's memory as openvino's does."""
        cdef ov_tensor_t* t
        try:
            t = ovf_state_get(self.request.req, self._name.encode())
        except RuntimeError as e:
            raise bridge_error(f"reading state '{self._name}'", e) from None
        return wrap_tensor(t, self.request)

    @state.setter
    def state(self, value):
        if not isinstance(value, Tensor):
            raise _exc.InputTypeError(f"state '{self._name}' takes an ovfast.Tensor, got {type(value).__name__}")
        try:
            ovf_state_set(self.request.req, self._name.encode(), (<Tensor>value).ptr)
        except RuntimeError as e:
            raise bridge_error(f"setting state '{self._name}'", e) from None

    def reset(self):
        try:
            ovf_state_reset(self.request.req, self._name.encode())
        except RuntimeError as e:
            raise bridge_error(f"resetting state '{self._name}'", e) from None

    def __repr__(self):
        return "<VariableState>"


cdef list query_states(InferRequest request):
    cdef VariableState s
    try:
        names = ovf_state_names(request.req)
    except RuntimeError as e:
        raise bridge_error("query_state", e) from None
    out = []
    for name in names:
        s = VariableState.__new__(VariableState)
        s.request = request
        s._name = name.decode("utf-8", "replace")
        out.append(s)
    return out


cdef reset_states(InferRequest request):
    try:
        ovf_state_reset_all(request.req)
    except RuntimeError as e:
        raise bridge_error("reset_state", e) from None

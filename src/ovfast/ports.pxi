# Ports of a compiled model, read once when it is compiled: everything the hot path needs to check and
# convert an input (type, static dims, byte size) sits in C fields.

cdef class ConstOutput:
    """An input or output of a CompiledModel, like openvino.ConstOutput (hashable, a dict key)."""

    @property
    def index(self):
        """The output index on the port's node, as in openvino (0 for every Parameter); the position
        among the model's inputs or outputs is `idx`."""
        return self.node_index

    def get_index(self):
        return self.node_index

    @property
    def any_name(self):
        return self._any_name

    def get_any_name(self):
        return self._any_name

    @property
    def names(self):
        return set(self._names)

    def get_names(self):
        return set(self._names)

    @property
    def element_type(self):
        return type_from_c(self.ctype)

    def get_element_type(self):
        return type_from_c(self.ctype)

    @property
    def shape(self):
        if self.dynamic:
            raise _exc.says(_exc.InputValueError, "dynamic shape", f"(port '{self._any_name}' has a dynamic "
                            f"shape {self._pshape_text}; use partial_shape)")
        return _ov.Shape(list(self.dims))

    def get_shape(self):
        return self.shape

    @property
    def partial_shape(self):
        return _ov.PartialShape(self._pshape_text)

    def get_partial_shape(self):
        return self.partial_shape

    def get_tensor(self):
        raise NotImplementedError("ovfast ports carry names, type and shape; the descriptor tensor is "
                                  "openvino's: use the openvino.Model's ports for graph work")

    def get_node(self):
        raise NotImplementedError("ovfast ports are of a compiled model and have no graph node; use the "
                                  "openvino.Model's ports for graph work")

    def _label(self):
        shape = self._pshape_text.replace("[", "").replace("]", "").replace(" ", "")
        return f"{type_label(self.ctype)}[{shape}]"

    def __repr__(self):
        names = ", ".join(self._names)
        return f"<ConstOutput: names[{names}] shape{self._pshape_text} type: {type_label(self.ctype)}>"


cdef ConstOutput make_port(ov_output_const_port_t* p, Py_ssize_t idx, bint is_input):
    cdef ConstOutput port = ConstOutput.__new__(ConstOutput)
    cdef char* name = NULL
    cdef ov_element_type_e c
    cdef ov_partial_shape_t ps
    cdef const char* text
    cdef Py_ssize_t i
    port.idx = idx
    port.node_index = ovf_port_node_index(p)
    port.is_input = is_input
    check(ov_port_get_element_type(p, &c), b"ov_port_get_element_type")
    port.ctype = c
    port.npy = _NPY_OF_C[<int>c]
    port._names = tuple([n.decode("utf-8") for n in ovf_port_names(p)])
    if ov_port_get_any_name(p, &name) == OK:
        port._any_name = name.decode("utf-8")
        ov_free(name)
    else:
        port._any_name = port._names[0] if port._names else ""
    check(ov_port_get_partial_shape(p, &ps), b"ov_port_get_partial_shape")
    try:
        text = ov_partial_shape_to_string(ps)
        port._pshape_text = text.decode("utf-8").replace("{", "[").replace("}", "]")
        ov_free(text)
        port.dynamic = ov_partial_shape_is_dynamic(ps)
        port.rank = ps.rank.max if not port.dynamic or ps.rank.min == ps.rank.max else -1
        port.dims = ()
        if not port.dynamic:
            if ps.rank.max > MAX_RANK:
                raise _exc.InputValueError(f"port '{port._any_name}' has rank {ps.rank.max}; ovfast supports "
                                           f"rank <= {MAX_RANK}")
            port.dims = tuple([ps.dims[i].min for i in range(ps.rank.max)])
    finally:
        ov_partial_shape_free(&ps)
    port.nbytes = 0
    if not port.dynamic:
        port.size = int(np.prod(port.dims, dtype=np.int64)) if port.dims else 1
        port.nbytes = (port.size * _BITS_OF_C[<int>c] + 7) // 8
    return port

# Ports of a compiled model, read once when it is compiled: everything the hot path needs to check and
# convert an input (type, static dims, byte size) sits in C fields. The graph node behind a port is read
# as text with the port, and made an openvino node only when asked for (_port_nodes.py): a port keeps no
# C++ object of the compiled model, so it may outlive the model, its Core and their plugin.

cdef class ConstOutput:
    # openvino's docstring, word for word: programs and openvino's tests compare it
    """openvino.ConstOutput represents port/node output."""

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

    def get_node(self):
        """The compiled model's node behind this port (a Parameter for an input, a Result for an output),
        as an openvino node: made on first use, then the same object (renaming it sticks, as in openvino)."""
        if self._node is None:
            kind, friendly, source, port_rt, node_rt = self._node_facts
            node = _port_nodes.rebuild(kind, friendly, source, type_from_c(self.ctype), self._pshape_text,
                                       self._names, port_rt, node_rt)
            if self._node is None:   # another thread may have made it meanwhile: keep one
                self._node = node
        return self._node

    @property
    def node(self):
        return self.get_node()

    def get_tensor(self):
        return self.get_node().output(self.node_index).get_tensor()

    @property
    def tensor(self):
        return self.get_tensor()

    def get_rt_info(self):
        return self.get_node().output(self.node_index).get_rt_info()

    @property
    def rt_info(self):
        return self.get_rt_info()

    def get_target_inputs(self):
        return self.get_node().output(self.node_index).get_target_inputs()

    @property
    def target_inputs(self):
        return self.get_target_inputs()

    def __copy__(self):
        return self   # a port does not change: the copy is the port (equal, same hash, same node)

    def __deepcopy__(self, memo):
        raise TypeError("Cannot deepcopy 'openvino.ConstOutput' object. A port belongs to its compiled model; "
                        "copy.copy gives the port itself")

    def __reduce__(self):
        # by value, as a port's description (names, type, shape, node as text); its node is made again on use
        return _port_from_state, ((self.idx, self.node_index, self.is_input, self._any_name, self._names,
                                   self._pshape_text, <int>self.ctype, self.npy, self.dynamic, self.rank, self.dims,
                                   self.size, self.nbytes, self._node_facts),)

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
    names = [n.decode("utf-8") for n in ovf_port_node_names(p)]
    port._node_facts = (names[0], names[1], names[2:], _rt_pairs(p, False), _rt_pairs(p, True))
    return port


def _port_from_state(tuple state):
    cdef ConstOutput port = ConstOutput.__new__(ConstOutput)
    (port.idx, port.node_index, port.is_input, port._any_name, port._names, port._pshape_text, ctype, port.npy,
     port.dynamic, port.rank, port.dims, port.size, port.nbytes, port._node_facts) = state
    port.ctype = <ov_element_type_e><int>ctype
    return port


cdef list _rt_pairs(ov_output_const_port_t* p, bint of_node):
    """The runtime info of port p (or of its node) as (key, text) pairs."""
    return [(k.decode("utf-8", "replace"), v.decode("utf-8", "replace")) for k, v in ovf_port_rt_info(p, of_node)]

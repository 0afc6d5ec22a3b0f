# The result of an inference: a read-only mapping from output port to numpy array that also answers to
# the output's index and to any of its names, like openvino's OVDict.

cdef class OVDict:

    def __len__(self):
        return len(self._values)

    def __iter__(self):
        return iter(self._ports)

    cdef Py_ssize_t _index(self, object key) except -1:
        return port_index(self._ports, self._names, key, "output", "result")

    def __getitem__(self, key):
        return self._values[self._index(key)]

    def __contains__(self, key):
        try:
            self._index(key)
        except (KeyError, IndexError, TypeError):
            return False
        return True

    def get(self, key, default=None):
        try:
            return self._values[self._index(key)]
        except (KeyError, IndexError, TypeError):
            return default

    def keys(self):
        return list(self._ports)

    def values(self):
        return list(self._values)

    def items(self):
        return list(zip(self._ports, self._values))

    def names(self):
        return tuple(set((<ConstOutput>p)._names) for p in self._ports)

    def to_tuple(self):
        return tuple(self._values)

    def to_dict(self):
        return dict(zip(self._ports, self._values))

    def __eq__(self, other):
        return NotImplemented

    def __setitem__(self, key, value):
        raise _exc.says(TypeError, "ovdict assignment", "(results are read-only; copy them with to_dict())")

    def __repr__(self):
        return "OVDict(" + repr(self.to_dict()) + ")"


collections.abc.Mapping.register(OVDict)


cdef inline OVDict make_ovdict(tuple ports, list values, dict names):
    cdef OVDict d = OVDict.__new__(OVDict)
    d._ports = ports
    d._values = values
    d._names = names
    return d


cdef OVDict result_of(CompiledModel compiled, list values):
    """An OVDict of compiled's outputs holding values (one array per output, in order): what a peer that
    runs the model itself (ovfast.DynamicBatcher) hands its callers, the same as compiled(x) returns."""
    return make_ovdict(compiled._outputs, values, compiled._out_names)

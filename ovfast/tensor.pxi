# Tensor: an ov_tensor_t plus whatever Python object owns the memory it points into.
#
# ov_tensor_create_from_host_ptr never says when OpenVINO is done with the memory, so a Tensor made over
# an array keeps that array (`_owner`) for as long as the Tensor lives; requests keep the Tensors they are
# given. Views handed out by `data` keep the Tensor alive through their `base`.

cdef class _Export:
    """The `base` of a numpy view of a Tensor: keeps it alive and counts live views."""
    cdef Tensor tensor

    def __dealloc__(self):
        if self.tensor is not None:
            self.tensor._exports -= 1


cdef shape_t_from(object shape, ov_shape_t* out):
    dims = [int(d) for d in shape]
    cdef Py_ssize_t n = len(dims), i
    cdef int64_t buf[16]
    if n > 16:
        raise _exc.InputValueError(f"shape {tuple(dims)} has rank {n}; ovfast supports rank <= 16")
    for i in range(n):
        if dims[i] < 0:
            raise _exc.InputValueError(f"shape {tuple(dims)} has a negative dimension")
        buf[i] = dims[i]
    if n == 0:  # ov_shape_create refuses rank 0; a scalar's shape is just that
        out.rank = 0
        out.dims = NULL
        return
    check(ov_shape_create(n, buf, out), b"ov_shape_create")


cdef tuple tensor_dims(const ov_tensor_t* t):
    cdef ov_shape_t s
    cdef size_t n = 0
    cdef ov_status_e st = ov_tensor_get_shape(t, &s)
    if st == INVALID_C_PARAM and ov_tensor_get_size(t, &n) == OK and n == 1:
        return ()  # the C API cannot describe a rank-0 shape and refuses; a one-element tensor is a scalar
    check(st, b"ov_tensor_get_shape")
    try:
        return tuple([s.dims[i] for i in range(s.rank)])
    finally:
        ov_shape_free(&s)


cdef class Tensor:
    """openvino.Tensor's API on OpenVINO's C tensor.

    Tensor(array, shared_memory=False)  copies the array (or shares it when shared_memory=True)
    Tensor(array, shape, type)          shares a slice of the array's memory, packed types included
    Tensor(type, shape)                 allocates
    """

    def __init__(self, *args, **kwargs):
        _tensor_init(self, args, kwargs)

    def __dealloc__(self):
        if self.ptr != NULL:
            ov_tensor_free(self.ptr)
            self.ptr = NULL

    cdef void* data_ptr(self) except? NULL:
        cdef void* p = NULL
        check(ov_tensor_data(self.ptr, &p), b"ov_tensor_data")
        return p

    cdef size_t nbytes(self) except? 0:
        cdef size_t n = 0
        check(ov_tensor_get_byte_size(self.ptr, &n), b"ov_tensor_get_byte_size")
        return n

    cdef object view(self):
        """A numpy array over the tensor's memory whose base keeps this Tensor alive."""
        cdef int npy = _NPY_OF_C[<int>self.ctype]
        cdef cnp.npy_intp dims[16]
        cdef int nd, i
        if npy < 0:
            raise _exc.InputTypeError(f"a tensor of type {type_label(self.ctype)} has no numpy view in ovfast")
        if is_packed(self.ctype):
            nd = 1
            dims[0] = <cnp.npy_intp>self.nbytes()
        else:
            shape = tensor_dims(self.ptr)
            nd = len(shape)
            for i in range(nd):
                dims[i] = shape[i]
        arr = cnp.PyArray_SimpleNewFromData(nd, dims, npy, self.data_ptr())
        cdef _Export export = _Export.__new__(_Export)
        export.tensor = self
        self._exports += 1
        cpython.Py_INCREF(export)
        cnp.PyArray_SetBaseObject(<cnp.ndarray>arr, export)
        return arr

    @property
    def data(self):
        return self.view()

    def __array__(self, dtype=None, copy=None):
        arr = self.view()
        if dtype is not None and np.dtype(dtype) != arr.dtype:
            return arr.astype(dtype)
        if copy:
            return arr.copy()
        return arr

    @property
    def shape(self):
        return _ov.Shape(list(tensor_dims(self.ptr)))

    def get_shape(self):
        return self.shape

    @shape.setter
    def shape(self, value):
        self.set_shape(value)

    def set_shape(self, shape):
        cdef ov_shape_t s
        new_dims = [int(d) for d in shape]
        old_dims = list(tensor_dims(self.ptr))
        if new_dims == old_dims:
            return
        if self._owner is not None:
            raise _exc.InputValueError(
                "cannot reshape a Tensor that shares memory with a numpy array; make a new Tensor instead")
        if self._exports > 0 and int(np.prod(new_dims)) > int(np.prod(old_dims)):
            raise BufferError(f"cannot grow a Tensor from {old_dims} to {new_dims} while {self._exports} "
                              f"view(s) of its data are alive: growing may move its memory")
        shape_t_from(new_dims, &s)
        try:
            check(ov_tensor_set_shape(self.ptr, s), b"ov_tensor_set_shape")
        finally:
            ov_shape_free(&s)

    @property
    def element_type(self):
        return type_from_c(self.ctype)

    def get_element_type(self):
        return type_from_c(self.ctype)

    @property
    def size(self):
        cdef size_t n = 0
        check(ov_tensor_get_size(self.ptr, &n), b"ov_tensor_get_size")
        return n

    def get_size(self):
        return self.size

    @property
    def byte_size(self):
        return self.nbytes()

    def get_byte_size(self):
        return self.nbytes()

    @property
    def strides(self):
        if is_packed(self.ctype):
            raise _exc.InputValueError(f"a tensor of type {type_label(self.ctype)} has no byte strides: its "
                                       f"elements are smaller than a byte")
        dims = tensor_dims(self.ptr)
        cdef Py_ssize_t step = _BITS_OF_C[<int>self.ctype] // 8
        strides = []
        for d in reversed(dims):
            strides.append(step)
            step *= d
        return _ov.Strides(strides[::-1])

    def get_strides(self):
        return self.strides

    def is_continuous(self):
        return True  # ovfast never makes ROI tensors

    def copy_to(self, Tensor target):
        _copy_tensor(self, target)

    def copy_from(self, source):
        if isinstance(source, Tensor):
            _copy_tensor(<Tensor>source, self)
            return
        src = np.asarray(source)
        dst = self.view()
        if src.shape != dst.shape and not is_packed(self.ctype):
            raise _exc.InputValueError(f"copy_from: tensor has shape {dst.shape}, source has {src.shape}")
        if src.size != dst.size:
            raise _exc.InputValueError(f"copy_from: tensor holds {dst.size} values, source has {src.size}")
        np.copyto(dst, src.reshape(dst.shape), casting="same_kind")

    def __repr__(self):
        return f"<Tensor: shape{list(tensor_dims(self.ptr))} type: {type_label(self.ctype)}>"


cdef _copy_tensor(Tensor src, Tensor dst):
    if src.ctype != dst.ctype:
        raise _exc.InputTypeError(f"copy between tensors of types {type_label(src.ctype)} and "
                                  f"{type_label(dst.ctype)}")
    sdims, ddims = tensor_dims(src.ptr), tensor_dims(dst.ptr)
    if sdims != ddims:
        dst.set_shape(sdims)
    memcpy(dst.data_ptr(), src.data_ptr(), src.nbytes())


cdef Tensor wrap_tensor(ov_tensor_t* ptr, object owner):
    """Takes ownership of ptr; owner (may be None) is kept for as long as the Tensor lives."""
    cdef Tensor t = Tensor.__new__(Tensor)
    cdef ov_element_type_e c
    t.ptr = ptr
    t._owner = owner
    if ov_tensor_get_element_type(ptr, &c) != OK:
        c = DYNAMIC
    t.ctype = c
    return t


cdef Tensor tensor_over(cnp.ndarray arr, ov_element_type_e c, object shape, object owner):
    """A tensor over arr's memory (C-contiguous), checked to fit in it."""
    cdef ov_shape_t s
    cdef ov_tensor_t* p = NULL
    shape_t_from(shape, &s)
    try:
        check(ov_tensor_create_from_host_ptr(c, s, cnp.PyArray_DATA(arr), &p), b"ov_tensor_create_from_host_ptr")
    finally:
        ov_shape_free(&s)
    cdef Tensor t = wrap_tensor(p, owner)
    cdef size_t need = t.nbytes()
    if need > <size_t>cnp.PyArray_NBYTES(arr):
        raise _exc.InputValueError(
            f"a {type_label(c)} tensor of shape {list(shape)} needs {need} bytes, the array has "
            f"{cnp.PyArray_NBYTES(arr)}")
    return t


cdef Tensor tensor_copy_of(cnp.ndarray arr, ov_element_type_e c):
    cdef ov_shape_t s
    cdef ov_tensor_t* p = NULL
    shape_t_from((<object>arr).shape, &s)
    try:
        check(ov_tensor_create(c, s, &p), b"ov_tensor_create")
    finally:
        ov_shape_free(&s)
    cdef Tensor t = wrap_tensor(p, None)
    if cnp.PyArray_IS_C_CONTIGUOUS(arr):
        memcpy(t.data_ptr(), cnp.PyArray_DATA(arr), cnp.PyArray_NBYTES(arr))
    else:
        np.copyto(t.view(), arr)
    return t


cdef _tensor_init(Tensor self, tuple args, dict kwargs):
    shared_memory = kwargs.pop("shared_memory", False)
    array = kwargs.pop("array", None)
    shape = kwargs.pop("shape", None)
    etype = kwargs.pop("type", None)
    if kwargs:
        raise TypeError(f"Tensor() got unexpected keyword arguments {sorted(kwargs)}")
    arglist = list(args)
    if arglist and isinstance(arglist[0], (np.ndarray, _ov.Tensor)) or array is not None:
        if array is None:
            array = arglist.pop(0)
        if arglist:
            shape = arglist.pop(0)
        if arglist:
            etype = arglist.pop(0)
        if arglist:
            shared_memory = arglist.pop(0)
        if isinstance(array, _ov.Tensor):
            array = array.data
        _tensor_from_array(self, array, shape, etype, bool(shared_memory))
        return
    # Tensor(type, shape) / Tensor(shape, type)
    if arglist:
        a0 = arglist.pop(0)
        if isinstance(a0, (_ov.Type, str, type, np.dtype)):
            etype = a0
            if arglist:
                shape = arglist.pop(0)
        else:
            shape = a0
            if arglist:
                etype = arglist.pop(0)
    if etype is None or shape is None:
        raise TypeError("Tensor() takes (array, shared_memory=False), (array, shape, type) or (type, shape)")
    cdef ov_element_type_e c = c_type_of(etype)
    cdef ov_shape_t s
    cdef ov_tensor_t* p = NULL
    shape_t_from(shape, &s)
    try:
        check(ov_tensor_create(c, s, &p), b"ov_tensor_create")
    finally:
        ov_shape_free(&s)
    self.ptr = p
    self.ctype = c


cdef _tensor_from_array(Tensor self, object array, object shape, object etype, bint shared):
    cdef cnp.ndarray arr = np.asarray(array)
    cdef Tensor t
    cdef ov_element_type_e c
    if shape is not None or etype is not None:
        # A view of (a slice of) the array's memory, read as `etype` with `shape`.
        if shape is None:
            raise TypeError("Tensor(array, shape, type) needs a shape")
        if not cnp.PyArray_IS_C_CONTIGUOUS(arr):
            raise _exc.InputValueError("Tensor(array, shape, type) shares the array's memory, which must be "
                                       "C-contiguous; pass np.ascontiguousarray(array)")
        c = c_type_of(etype) if etype is not None else c_type_of_array(arr)
        t = tensor_over(arr, c, shape, arr)
    elif shared:
        c = c_type_of_array(arr)
        if not cnp.PyArray_IS_C_CONTIGUOUS(arr):
            raise _exc.InputValueError("shared_memory=True needs a C-contiguous array; this one has strides "
                                       f"{(<object>arr).strides} (pass np.ascontiguousarray(array), which copies)")
        t = tensor_over(arr, c, (<object>arr).shape, arr)
    else:
        c = c_type_of_array(arr)
        t = tensor_copy_of(arr, c)
    # move the handle into self
    self.ptr = t.ptr
    t.ptr = NULL
    self.ctype = c
    self._owner = t._owner

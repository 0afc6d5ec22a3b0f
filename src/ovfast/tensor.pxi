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


# Shapes go to the C API as ov_shape_t views of a stack buffer: the C API copies the dims, so there is
# no ov_shape_create/ov_shape_free (two heap round trips) on the hot paths.
cdef enum:
    MAX_RANK = 32

ctypedef struct dims_t:
    int64_t rank
    int64_t d[MAX_RANK]


cdef inline ov_shape_t as_shape(dims_t* dims) noexcept nogil:
    cdef ov_shape_t s
    s.rank = dims.rank
    s.dims = dims.d
    return s


# The largest element count whose byte size fits in a signed 64-bit count for every element type (a
# string element is a 32-byte std::string): past it OpenVINO's byte counts wrap around, and a tensor of
# [2**32, 2**32] u8 would claim 0 bytes.
cdef object MAX_ELEMENTS = (2 ** 63 - 1) // 32


cdef int dims_from_seq(object shape, dims_t* out) except -1:
    """A user's shape (a sequence of ints, an openvino.Shape) into dims, checked for type, sign and size."""
    cdef Py_ssize_t n, i
    dims = user_dims(shape)
    n = len(dims)
    if n > MAX_RANK:
        raise _exc.InputValueError(f"shape {dims} has rank {n}; ovfast supports rank <= {MAX_RANK}")
    out.rank = n
    for i in range(n):
        out.d[i] = dims[i]
    return 0


def user_dims(shape):
    """A user's shape as a list of ints: integers only (2.5 or "12" are TypeErrors, as in openvino), none
    negative, and small enough that no byte count of it wraps around. Every shape a user gives goes
    through here (tensors, set_shape, helpers.unpack_data)."""
    if not isinstance(shape, (str, bytes, bytearray)):
        try:
            items = list(shape)
        except TypeError:
            items = None
    if isinstance(shape, (str, bytes, bytearray)) or items is None:
        raise _exc.InputTypeError(f"a shape is a sequence of integers such as [1, 3, 224, 224], got "
                                  f"{type(shape).__name__} {shape!r}")
    dims = [_dim_of(d, shape) for d in items]
    if any(d < 0 for d in dims):
        raise _exc.InputValueTypeError(f"shape {dims} has a negative dimension")
    if math.prod(dims) > MAX_ELEMENTS or any(d > MAX_ELEMENTS for d in dims):
        raise _exc.InputValueError(f"shape {dims} is too large: a tensor holds at most {MAX_ELEMENTS} elements "
                                   f"in all and per dimension (beyond that its byte size would not fit in 64 "
                                   f"bits)")
    return dims


cdef object _dim_of(object d, object shape):
    if isinstance(d, _ov.Dimension):
        if d.is_static:
            return d.get_length()
        raise _exc.InputValueError(f"shape {shape} has a dynamic dimension; a tensor needs a static shape")
    try:
        return operator.index(d)  # an int or numpy integer; 2.5 or "1" are refused, as openvino does
    except TypeError:
        raise _exc.InputTypeError(f"shape {shape!r}: dimension {d!r} is a {type(d).__name__}, not an "
                                  f"integer") from None


cdef int dims_from_array(cnp.ndarray arr, dims_t* out) except -1:
    cdef int i, n = cnp.PyArray_NDIM(arr)
    if n > MAX_RANK:
        raise _exc.InputValueError(f"an array of rank {n}; ovfast supports rank <= {MAX_RANK}")
    out.rank = n
    for i in range(n):
        out.d[i] = cnp.PyArray_DIMS(arr)[i]
    return 0


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

    def __init__(self, array=None, shape=None, type=None, bint shared_memory=False):
        if shape is not None and isinstance(shape, bool):  # Tensor(array, True): openvino's shared_memory
            shared_memory, shape = shape, None
        # The hot spellings, Tensor(array, ...) and Tensor(Type, shape), are parsed here; _sugar parses the rest.
        if cnp.PyArray_Check(array):
            _tensor_of_array(self, array, shape, type, shared_memory)
            return
        if type is None and shape is not None and isinstance(array, _ov.Type):
            _tensor_allocated(self, array, shape)
            return
        array, shape, type, shared_memory = _sugar.tensor_form(array, shape, type, shared_memory)
        if array is None:
            _tensor_allocated(self, type, shape)
        else:
            _tensor_of_array(self, array, shape, type, shared_memory)

    def __cinit__(self):
        ovf_count_tensor(1)

    def __dealloc__(self):
        ovf_count_tensor(-1)
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
        cdef cnp.npy_intp dims[MAX_RANK]
        cdef int nd, i
        if npy < 0:
            raise _exc.InputTypeError(f"a tensor of type {type_label(self.ctype)} has no numpy view in ovfast")
        if is_packed(self.ctype):
            nd = 1
            dims[0] = <cnp.npy_intp>self.nbytes()
        else:
            shape = tensor_dims(self.ptr)
            nd = len(shape)
            if nd > MAX_RANK:
                raise _exc.InputValueError(f"a tensor of rank {nd}; ovfast supports rank <= {MAX_RANK}")
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
        if self.ctype == STRING:  # as openvino: a copy of the bytes, with its warning
            warnings.warn("Data of string type will be copied! Please use dedicated properties `str_data` and "
                          "`bytes_data` to avoid confusion while accessing Tensor's contents.", RuntimeWarning,
                          stacklevel=2)
            return self.bytes_data
        return self.view()

    @property
    def str_data(self):
        """A string tensor's elements as a numpy array of str (decoded from UTF-8, bad bytes replaced)."""
        return np.array([b.decode("utf-8", "replace") for b in self._strings()], dtype=str).reshape(self._dims())

    @str_data.setter
    def str_data(self, value):
        self._set_strings(value)

    @property
    def bytes_data(self):
        """A string tensor's elements as a numpy array of bytes."""
        return np.array(self._strings(), dtype=bytes).reshape(self._dims())

    @bytes_data.setter
    def bytes_data(self, value):
        self._set_strings(value)

    def _dims(self):
        return tuple(tensor_dims(self.ptr))

    def _strings(self):
        if self.ctype != STRING:
            raise _exc.says(_exc.InputTypeError, "string tensor", f"(str_data/bytes_data of a "
                            f"{type_label(self.ctype)} tensor)")
        try:
            return ovf_tensor_strings(self.ptr)
        except RuntimeError as e:
            raise bridge_error("str_data/bytes_data", e) from None

    def _set_strings(self, value):
        cdef vector[string] values = _encoded_strings(value, "str_data/bytes_data")
        try:
            ovf_tensor_set_strings(self.ptr, values)
        except RuntimeError as e:
            raise bridge_error("str_data/bytes_data", e) from None

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
        cdef dims_t d
        dims_from_seq(shape, &d)
        new_dims = [d.d[i] for i in range(d.rank)]
        old_dims = list(tensor_dims(self.ptr))
        if new_dims == old_dims:
            return
        # A Tensor over shared memory takes any shape that fits in that memory (OpenVINO refuses a larger
        # one, as openvino does); an allocated one may move its memory when it grows, so not under views.
        if self._owner is None and self._exports > 0 and int(np.prod(new_dims)) > int(np.prod(old_dims)):
            raise BufferError(f"cannot grow a Tensor from {old_dims} to {new_dims} while {self._exports} "
                              f"view(s) of its data are alive: growing may move its memory")
        check(ov_tensor_set_shape(self.ptr, as_shape(&d)), b"ov_tensor_set_shape")

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
            raise _exc.says(_exc.InputValueError, "strides", f"(a tensor of type {type_label(self.ctype)} has no "
                            f"byte strides: its elements are smaller than a byte)", type=type_label(self.ctype))
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
        if not is_packed(self.ctype) and src.shape != tuple(self.shape):
            # as openvino: the tensor takes the source's shape (growing it needs memory of its own)
            self.shape = list(src.shape)
        dst = self.view()
        if src.size != dst.size:
            raise _exc.InputValueError(f"copy_from: tensor holds {dst.size} values, source has {src.size}")
        np.copyto(dst, src.reshape(dst.shape), casting="same_kind")

    def __copy__(self):
        """A Tensor over the same memory (as openvino's copy.copy), keeping this one alive."""
        cdef dims_t d
        cdef ov_tensor_t* p = NULL
        dims_from_seq(tensor_dims(self.ptr), &d)
        check(ov_tensor_create_from_host_ptr(self.ctype, as_shape(&d), self.data_ptr(), &p),
              b"ov_tensor_create_from_host_ptr")
        return wrap_tensor(p, self)

    def __deepcopy__(self, memo):
        """A Tensor with its own copy of the data."""
        cdef dims_t d
        cdef ov_tensor_t* p = NULL
        dims_from_seq(tensor_dims(self.ptr), &d)
        check(ov_tensor_create(self.ctype, as_shape(&d), &p), b"ov_tensor_create")
        cdef Tensor t = wrap_tensor(p, None)
        memcpy(t.data_ptr(), self.data_ptr(), self.nbytes())
        return t

    def __repr__(self):
        return f"<Tensor: shape{list(tensor_dims(self.ptr))} type: {type_label(self.ctype)}>"


cdef _copy_tensor(Tensor src, Tensor dst):
    if src.ctype != dst.ctype:
        raise _exc.says(_exc.InputTypeError, "copy types", f"(copy between tensors of types "
                        f"{type_label(src.ctype)} and {type_label(dst.ctype)})", src=type_label(src.ctype),
                        dst=type_label(dst.ctype))
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


cdef ov_tensor_t* host_tensor(cnp.ndarray arr, ov_element_type_e c, dims_t* dims) except NULL:
    """An ov_tensor_t over arr's memory (C-contiguous), checked to fit in it."""
    cdef ov_tensor_t* p = NULL
    cdef size_t need = 0
    check(ov_tensor_create_from_host_ptr(c, as_shape(dims), cnp.PyArray_DATA(arr), &p),
          b"ov_tensor_create_from_host_ptr")
    ov_tensor_get_byte_size(p, &need)
    if need > <size_t>cnp.PyArray_NBYTES(arr):
        ov_tensor_free(p)
        raise _exc.InputValueError(
            f"a {type_label(c)} tensor of shape {[dims.d[i] for i in range(dims.rank)]} needs {need} bytes, "
            f"the array has {cnp.PyArray_NBYTES(arr)}")
    return p


cdef Tensor tensor_over(cnp.ndarray arr, ov_element_type_e c, object shape):
    """A Tensor over arr's memory that keeps arr; shape None means the array's own."""
    cdef dims_t d
    if shape is None:
        dims_from_array(arr, &d)
    else:
        dims_from_seq(shape, &d)
    return wrap_tensor(host_tensor(arr, c, &d), arr)


cdef Tensor tensor_copy_of(cnp.ndarray arr, ov_element_type_e c):
    cdef dims_t d
    cdef ov_tensor_t* p = NULL
    dims_from_array(arr, &d)
    check(ov_tensor_create(c, as_shape(&d), &p), b"ov_tensor_create")
    cdef Tensor t = wrap_tensor(p, None)
    if cnp.PyArray_IS_C_CONTIGUOUS(arr):
        memcpy(t.data_ptr(), cnp.PyArray_DATA(arr), cnp.PyArray_NBYTES(arr))
    else:
        np.copyto(t.view(), arr)
    return t


cdef int _check_shareable(cnp.ndarray arr) except -1:
    """The one rule for wrapping a user's memory: numbers only, and never memory we may not write.

    A Tensor's `data` is writable and a request may write into the tensors it is given, so sharing a
    read-only array would let either change an immutable `bytes` object or crash on a read-only mapping.
    Object and other non-numeric arrays hold pointers, not numbers, whatever type they are read as."""
    if arr.dtype.kind not in "biuf" or arr.dtype.hasobject:
        raise _exc.says(_exc.UnsupportedDtype, "dtype", f"(numpy dtype {arr.dtype} has no OpenVINO element type "
                        f"and cannot be shared as one; expected bool, float16/32/64, int8/16/32/64 or "
                        f"uint8/16/32/64 values)", dtype=arr.dtype)
    if not cnp.PyArray_ISWRITEABLE(arr):
        raise _exc.says(_exc.InputValueError, "readonly", ": ovfast shares only memory it may write (a Tensor's "
                        "data and a request's inputs are writable); pass array.copy(), or Tensor(array) without "
                        "shared_memory, which copies")
    return 0


cdef vector[string] _encoded_strings(object value, str what) except *:
    """str or bytes elements (any nesting numpy takes), as UTF-8 bytes in C order."""
    arr = value if isinstance(value, np.ndarray) else np.asarray(value)
    if arr.dtype.kind not in "US" and not (arr.dtype.hasobject and all(isinstance(v, (str, bytes)) for v in arr.flat)):
        raise _exc.says(_exc.InputTypeError, "string kind", f"({what} takes str or bytes elements, got an array "
                        f"of {arr.dtype})")
    cdef vector[string] out
    for v in arr.flat:
        out.push_back(v.encode("utf-8") if isinstance(v, str) else bytes(v))
    return out


cdef Tensor string_tensor(object value):
    """A string tensor of value's shape holding its str (UTF-8) or bytes elements; always a copy."""
    arr = value if isinstance(value, np.ndarray) else np.asarray(value)
    cdef dims_t d
    cdef ov_tensor_t* p = NULL
    cdef vector[string] values = _encoded_strings(arr, "a string tensor")
    dims_from_seq(arr.shape, &d)
    check(ov_tensor_create(STRING, as_shape(&d), &p), b"ov_tensor_create(string)")
    cdef Tensor t = wrap_tensor(p, None)
    try:
        ovf_tensor_set_strings(p, values)
    except RuntimeError as e:
        raise bridge_error("making a string tensor", e) from None
    return t


cdef int _tensor_of_array(Tensor self, object array, object shape, object etype, bint shared) except -1:
    """A Tensor from a numpy array (or an openvino.Tensor's data): a copy, the array itself when shared, or
    with a shape (and type) a view of its memory."""
    cdef ov_element_type_e c
    cdef cnp.ndarray arr
    cdef dims_t d
    cdef ov_tensor_t* p = NULL
    cdef int c_of_npy
    cdef Tensor t
    if (shape is None and etype is None and cnp.PyArray_Check(array)
            and cnp.PyArray_TYPE(<cnp.ndarray>array) in (cnp.NPY_UNICODE, cnp.NPY_STRING)):
        if shared:   # as openvino: OpenVINO's strings are std::string objects, not the array's bytes
            raise _exc.says(_exc.InputValueError, "shared strings", "(pass shared_memory=False)")
        t = string_tensor(array)
        self.ptr, self.ctype = t.ptr, t.ctype
        t.ptr = NULL
        return 0
    arr = <cnp.ndarray>(array if cnp.PyArray_Check(array) else array.data)
    if shared or shape is not None:
        _check_shareable(arr)
    if not cnp.PyArray_ISNOTSWAPPED(arr):
        if shared or shape is not None:
            raise _exc.InputValueError(f"the array's bytes are in non-native order ({arr.dtype.str}): "
                                       f"OpenVINO cannot share them; pass array.astype(array.dtype.newbyteorder('='))")
        arr = arr.astype(arr.dtype.newbyteorder("="))
    if shape is None and etype is None:
        c_of_npy = c_type_of_npy(cnp.PyArray_TYPE(arr))
        if c_of_npy < 0:
            c_type_of_array(arr)  # raises the message
        c = <ov_element_type_e>c_of_npy
        if shared:
            if not cnp.PyArray_IS_C_CONTIGUOUS(arr):
                raise _exc.says(_exc.InputValueError, "not c contiguous",
                                f"(shared_memory=True needs a C-contiguous array; this one has strides "
                                f"{(<object>arr).strides}: pass np.ascontiguousarray(array), which copies)")
            dims_from_array(arr, &d)
            check(ov_tensor_create_from_host_ptr(c, as_shape(&d), cnp.PyArray_DATA(arr), &p),
                  b"ov_tensor_create_from_host_ptr")
            self.ptr, self.ctype, self._owner = p, c, arr
            return 0
        t = tensor_copy_of(arr, c)
    else:
        # A view of (a slice of) the array's memory, read as `etype` with `shape`.
        if shape is None:
            raise TypeError("Tensor(array, shape, type) needs a shape")
        if not cnp.PyArray_IS_C_CONTIGUOUS(arr):
            raise _exc.InputValueError("Tensor(array, shape, type) shares the array's memory, which must "
                                       "be C-contiguous; pass np.ascontiguousarray(array)")
        c = c_type_of(etype) if etype is not None else c_type_of_array(arr)
        t = tensor_over(arr, c, shape)
    self.ptr, self.ctype, self._owner = t.ptr, t.ctype, t._owner
    t.ptr = NULL
    return 0


cdef int _tensor_allocated(Tensor self, object etype, object shape) except -1:
    cdef ov_element_type_e c = c_type_of(etype)
    cdef dims_t d
    cdef ov_tensor_t* p = NULL
    dims_from_seq(shape, &d)
    check(ov_tensor_create(c, as_shape(&d), &p), b"ov_tensor_create")
    self.ptr, self.ctype = p, c
    return 0

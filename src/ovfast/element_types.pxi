# Element types: the C enum, openvino.Type, and the numpy dtype of a tensor's `data`.

# ov_element_type_e in declaration order, spelled as openvino.Type's attributes.
_C_TYPE_NAMES = ("dynamic", "boolean", "bf16", "f16", "f32", "f64", "i4", "i8", "i16", "i32", "i64",
                 "u1", "u2", "u3", "u4", "u6", "u8", "u16", "u32", "u64", "nf4", "f8e4m3", "f8e5m2",
                 "string", "f4e2m1", "f8e8m0")
cdef enum:
    N_TYPES = 26

cdef list _TYPE_FROM_C = [getattr(_ov.Type, n) for n in _C_TYPE_NAMES]
cdef dict _C_FROM_NAME = {n: i for i, n in enumerate(_C_TYPE_NAMES)}

# numpy type of `Tensor.data`, as openvino gives it: packed sub-byte and 8-bit float types are raw bytes
# (int8 for i4), bf16 shows as float16. -1: no numpy view.
cdef int _NPY_OF_C[N_TYPES]
cdef int _BITS_OF_C[N_TYPES]

def _init_type_tables():
    npy = {
        "boolean": cnp.NPY_BOOL, "bf16": cnp.NPY_FLOAT16, "f16": cnp.NPY_FLOAT16, "f32": cnp.NPY_FLOAT32,
        "f64": cnp.NPY_FLOAT64, "i4": cnp.NPY_INT8, "i8": cnp.NPY_INT8, "i16": cnp.NPY_INT16,
        "i32": cnp.NPY_INT32, "i64": cnp.NPY_INT64, "u8": cnp.NPY_UINT8, "u16": cnp.NPY_UINT16,
        "u32": cnp.NPY_UINT32, "u64": cnp.NPY_UINT64,
    }
    for i, n in enumerate(_C_TYPE_NAMES):
        t = _TYPE_FROM_C[i]
        _BITS_OF_C[i] = t.bitwidth if n not in ("dynamic", "string") else 0
        _NPY_OF_C[i] = npy.get(n, cnp.NPY_UINT8 if n not in ("dynamic", "string") else -1)

_init_type_tables()

# numpy dtype -> element type for Tensor(array) and input conversion; others are refused.
cdef dict _C_FROM_NPY = {
    cnp.NPY_BOOL: BOOLEAN, cnp.NPY_FLOAT16: F16, cnp.NPY_FLOAT32: F32, cnp.NPY_FLOAT64: F64,
    cnp.NPY_INT8: I8, cnp.NPY_INT16: I16, cnp.NPY_INT32: I32, cnp.NPY_INT64: I64,
    cnp.NPY_UINT8: U8, cnp.NPY_UINT16: U16, cnp.NPY_UINT32: U32, cnp.NPY_UINT64: U64,
}
# Same-size aliases numpy reports with their own type numbers (long long on LP64 and friends).
for _alias in (np.longlong, np.ulonglong, np.intc, np.uintc):
    _C_FROM_NPY.setdefault(np.dtype(_alias).num, _C_FROM_NPY[np.dtype(np.dtype(_alias).str).num])


# The same as a C table indexed by numpy type number, for the hot paths.
cdef int _C_OF_NPY[64]
for _i in range(64):
    _C_OF_NPY[_i] = <int>_C_FROM_NPY.get(_i, -1)


cdef inline int c_type_of_npy(int npy_num) noexcept nogil:
    return _C_OF_NPY[npy_num] if 0 <= npy_num < 64 else -1


cdef inline object type_from_c(int c):
    return _TYPE_FROM_C[c]


cdef inline bint is_packed(int c) nogil:
    return 0 < _BITS_OF_C[c] < 8


cdef ov_element_type_e c_type_of(object t) except *:
    """openvino.Type, its name ("f32"), or a numpy dtype -> ov_element_type_e."""
    cdef object c
    if isinstance(t, _ov.Type):
        c = _C_FROM_NAME.get(t.get_type_name())
    elif isinstance(t, str) and t in _C_FROM_NAME:
        c = _C_FROM_NAME[t]
    else:
        try:
            c = _C_FROM_NPY.get(np.dtype(t).num)
        except TypeError:
            c = None
    if c is None:
        raise _exc.InputTypeError(f"{t!r} is not an OpenVINO element type ovfast can use; expected an "
                                  f"openvino.Type such as ov.Type.f32 or a numeric numpy dtype")
    return <ov_element_type_e>c


cdef ov_element_type_e c_type_of_array(cnp.ndarray arr) except *:
    c = _C_FROM_NPY.get(cnp.PyArray_TYPE(arr))
    if c is None:
        raise _exc.says(_exc.UnsupportedDtype, "dtype", f"(numpy dtype {arr.dtype} has no OpenVINO element type; "
                        f"expected one of bool, float16/32/64, int8/16/32/64, uint8/16/32/64)", dtype=arr.dtype)
    return <ov_element_type_e>c


cdef str type_label(int c):
    return _C_TYPE_NAMES[c]

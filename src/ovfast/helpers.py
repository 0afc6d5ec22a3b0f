"""pack_data / unpack_data for OpenVINO's sub-byte element types, in the bit layout the runtime reads.

Same signatures as openvino.helpers, with these differences (openvino's helpers write u4/i4/nf4/f4e2m1 with
element 0 in the HIGH nibble, which a compiled model reads swapped: [1, 2, 3, 4, 5] comes back as
[2, 1, 4, 3, 0]):

- the layout is the runtime's (see ovfast/_packing.pyx), checked against the installed runtime by the tests;
- values out of the type's range, and non-integer floats, raise ValueError naming the first bad index;
- a packed buffer of the wrong byte size raises ValueError with the expected size;
- `out=` writes into a caller's uint8 buffer or into an ovfast.Tensor of that type; unpack_data takes a
  Tensor too, so packing into and unpacking out of tensors needs no extra copy.

nf4 and f4e2m1 take and give their 4-bit codes (0..15), as openvino's helpers do, not float values.
The kernels run without the GIL.
"""

import math
import sys

import numpy as np
import openvino as _ov

from ovfast import _packing
from ovfast._runtime import Tensor, user_dims

__all__ = ["pack_data", "unpack_data", "packed_byte_size", "PACKED_TYPES"]

# name: (kernel layout, values per group, bytes per group, lowest value, highest value)
_LAYOUTS = {
    "u1": (0, 8, 1, 0, 1),
    "u2": (1, 4, 1, 0, 3),
    "u4": (2, 2, 1, 0, 15),
    "i4": (2, 2, 1, -8, 7),
    "nf4": (2, 2, 1, 0, 15),
    "f4e2m1": (2, 2, 1, 0, 15),
    "u3": (3, 8, 3, 0, 7),
    "u6": (4, 4, 3, 0, 63),
}
PACKED_TYPES = tuple(_LAYOUTS)
_INT_DTYPES = {np.dtype(t) for t in (np.uint8, np.int8, np.uint16, np.int16, np.uint32, np.int32, np.uint64,
                                     np.int64)}
_LITTLE_ENDIAN = sys.byteorder == "little"


def _type_name(type):
    name = type if type.__class__ is str else (type.get_type_name() if isinstance(type, _ov.Type) else str(type))
    if name not in _LAYOUTS:
        raise ValueError(f"{type!r} is not a packed sub-byte type; expected one of {', '.join(PACKED_TYPES)}")
    return name


def packed_byte_size(type, n):
    """Bytes that n values of a sub-byte type occupy (whole groups: u3 and u6 pack 8 and 4 per 3 bytes)."""
    _, per, nbytes, _, _ = _LAYOUTS[_type_name(type)]
    return -(-int(n) // per) * nbytes


def _as_ints(array, name, lo, hi):
    arr = array if array.__class__ is np.ndarray else np.asarray(array)
    if arr.dtype not in _INT_DTYPES and arr.dtype == np.bool_:
        arr = arr.view(np.uint8)
    if arr.dtype not in _INT_DTYPES:
        if arr.dtype.kind != "f":
            raise ValueError(f"pack_data({name}) takes integer values {lo}..{hi}, got dtype {arr.dtype}")
        flat = arr.reshape(-1)
        bad = ~np.isfinite(flat) | (flat != np.round(flat))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"pack_data({name}): value {flat[i].item()!r} at index {i} is not an integer; {name} "
                             f"takes integers {lo}..{hi}" + (" (4-bit codes)" if name in ("nf4", "f4e2m1") else ""))
        outside = (flat < lo) | (flat > hi)
        if outside.any():
            i = int(np.flatnonzero(outside)[0])
            raise ValueError(f"pack_data({name}): value {flat[i].item()!r} at index {i} is out of range {lo}..{hi}")
        arr = arr.astype(np.int8 if lo < 0 else np.uint8)
    return np.ascontiguousarray(arr).reshape(-1)


def pack_data(array, type, out=None):
    """Packs integer values of a sub-byte type into uint8 bytes (a 1-D array of packed_byte_size bytes).

    out: a C-contiguous uint8 array of exactly that many bytes, or an ovfast.Tensor of this type and
    size, written in place and returned.
    """
    name = _type_name(type)
    layout, per, group_bytes, lo, hi = _LAYOUTS[name]
    flat = _as_ints(array, name, lo, hi)
    need = -(-flat.size // per) * group_bytes
    target = out
    if isinstance(out, Tensor):
        if out.get_element_type().get_type_name() != name or out.size != flat.size:
            raise ValueError(f"pack_data: out is a {out.get_element_type().get_type_name()} tensor of "
                             f"{out.size} elements, the data is {flat.size} {name} values")
        out = out.data.view(np.uint8)
    if out is None:
        out = np.empty(need, np.uint8)
    elif not (isinstance(out, np.ndarray) and out.dtype == np.uint8 and out.flags.c_contiguous
              and out.flags.writeable):
        raise ValueError("pack_data: out must be a writable C-contiguous uint8 array or an ovfast.Tensor")
    elif out.nbytes != need:
        raise ValueError(f"pack_data: {flat.size} {name} values take {need} bytes, out has {out.nbytes}")
    bad = _packing.pack(flat, out.reshape(-1), layout, lo, hi, _LITTLE_ENDIAN)
    if bad >= 0:
        raise ValueError(f"pack_data({name}): value {flat[bad].item()} at index {bad} is out of range {lo}..{hi}")
    return target if isinstance(target, Tensor) else out


def unpack_data(array, type=None, shape=None, out=None):
    """Unpacks a packed buffer (or an ovfast.Tensor of a sub-byte type) into an array of `shape`:
    uint8 values, int8 for i4.

    out: a C-contiguous array of that dtype and shape, written in place and returned.
    """
    if isinstance(array, Tensor):
        type = array.get_element_type() if type is None else type
        shape = list(array.shape) if shape is None else shape
        array = array.data
    if type is None or shape is None:
        raise TypeError("unpack_data(array, type, shape) needs the type and shape (or pass an ovfast.Tensor)")
    name = _type_name(type)
    layout = _LAYOUTS[name][0]
    shape = tuple(user_dims(shape))
    n = math.prod(shape)
    packed = np.asarray(array)
    if packed.dtype.itemsize != 1 or packed.dtype.kind not in "uib":
        raise ValueError(f"unpack_data: the packed buffer must be bytes (uint8/int8), got {packed.dtype}")
    packed = np.ascontiguousarray(packed).reshape(-1).view(np.uint8)
    need = packed_byte_size(name, n)
    if packed.size != need:
        raise ValueError(f"unpack_data: {n} {name} values (shape {list(shape)}) take {need} bytes, the buffer "
                         f"has {packed.size}")
    dtype = np.int8 if name == "i4" else np.uint8
    if out is None:
        out = np.empty(shape, dtype)
    elif not (isinstance(out, np.ndarray) and out.dtype == dtype and out.shape == shape
              and out.flags.c_contiguous and out.flags.writeable):
        raise ValueError(f"unpack_data: out must be a writable C-contiguous {np.dtype(dtype)} array of shape "
                         f"{list(shape)}")
    _packing.unpack(packed, out.reshape(-1).view(np.uint8), layout, name == "i4")
    return out

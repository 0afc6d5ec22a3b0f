# Tensor: gstgva's Tensor (DL Streamer's Python API) over ovfast's metadata. A Tensor is one of
#   - a region's parameter structure (detection, classification, anything Python added: add_tensor),
#   - a tensor of fields on the whole frame (an OvfastFieldsMeta: VideoFrame.add_tensor),
#   - an output ovfastinfer attached (an OvfastTensor of an OvfastTensorMeta): its data, dims and precision
#     come from the output; what Python writes on it (set_name, set_label, fields) goes into a structure the
#     meta keeps beside it (OvfastTensorMeta.fields), created at the first write.
# Every accessor first checks that its frame is still held and its meta still on the buffer (the frame's
# generation counts removals), so a Tensor kept too long raises instead of reading freed memory.

from enum import Enum as _Enum


class _Precision(_Enum):
    """DL Streamer's precision codes (gstgva's Tensor.PRECISION)."""
    UNSPECIFIED = 255
    FP32 = 10
    FP16 = 11
    BF16 = 12
    FP64 = 13
    Q78 = 20
    I16 = 30
    U4 = 39
    U8 = 40
    I4 = 49
    I8 = 50
    U16 = 60
    I32 = 70
    U32 = 74
    I64 = 72
    U64 = 73
    BIN = 71
    BOOL = 41
    CUSTOM = 80


class _Layout(_Enum):
    """DL Streamer's layout codes (gstgva's Tensor.LAYOUT)."""
    ANY = 0
    NCHW = 1
    NHWC = 2
    NC = 193


# They are Tensor.PRECISION and Tensor.LAYOUT, and say so (the reference documents them there).
_Precision.__module__ = _Layout.__module__ = "ovfast.gst"
_Precision.__qualname__, _Layout.__qualname__ = "Tensor.PRECISION", "Tensor.LAYOUT"

# OpenVINO's element type names -> DL Streamer's precision, and precision -> numpy's dtype
_PRECISION_OF = {"f32": 10, "f16": 11, "bf16": 12, "f64": 13, "i16": 30, "u4": 39, "u8": 40, "i4": 49, "i8": 50,
                 "u16": 60, "i32": 70, "u32": 74, "i64": 72, "u64": 73, "u1": 71, "boolean": 41}
_DTYPE_OF_PRECISION = {10: "float32", 11: "float16", 13: "float64", 30: "int16", 40: "uint8", 50: "int8",
                       60: "uint16", 70: "int32", 74: "uint32", 72: "int64", 73: "uint64", 41: "bool"}
_RAW_PREFIX = "inference_layer_name:"     # DL Streamer's name for a raw output's tensor


cdef class Tensor:
    """An inference result: a tensor of fields (name, label, confidence, ...) and, for a model's output, its
    data. gstgva's Tensor: `from ovfast.gst.gstgva import Tensor`."""
    PRECISION = _Precision
    LAYOUT = _Layout

    cdef object _frame                 # the VideoFrame it came from
    cdef object _region                # its RegionOfInterest, or None
    cdef GstMeta* _meta                # the meta it lives in (checked to be on the buffer)
    cdef GstStructure* _s              # its fields; a raw output's: NULL until written
    cdef OvfastTensorMeta* _raw        # a model's output: its meta and index
    cdef uint32_t _index
    cdef unsigned long _generation

    def __init__(self, *args, **kwargs):
        raise TypeError("Tensor objects come from VideoFrame.tensors(), RegionOfInterest.tensors() and add_tensor()")

    # --- where it lives ----------------------------------------------------------------------------------------
    cdef GstBuffer* _check(self) except NULL:
        cdef VideoFrame frame = <VideoFrame>self._frame
        cdef GstBuffer* buf = frame._buffer()
        if self._generation != frame.generation:
            if self._region is not None:
                (<RegionOfInterest>self._region)._check()
            if not _meta_on(buf, self._meta):
                raise RuntimeError("this Tensor was removed from its frame (with its region)")
            self._generation = frame.generation
        return buf

    cdef GstStructure* _fields(self) except? NULL:
        """Its fields structure for reading (NULL: a raw output nothing was written on)."""
        self._check()
        if self._raw != NULL:
            return self._raw.fields[self._index] if self._raw.fields != NULL else NULL
        return self._s

    cdef GstStructure* _writable(self, str what) except NULL:
        """Its fields structure for writing; a raw output's is made here, holding the output's defaults."""
        (<VideoFrame>self._frame)._writable_buffer(what)
        self._check()
        if self._raw == NULL:
            return self._s
        if self._raw.fields == NULL:
            self._raw.fields = <GstStructure**>g_malloc0(sizeof(GstStructure*) * self._raw.n_tensors)
        if self._raw.fields[self._index] == NULL:
            self._raw.fields[self._index] = self._fields_copy()
        return self._raw.fields[self._index]

    cdef GstStructure* _fields_copy(self) except NULL:
        """A new structure (the caller's) holding its fields: those written, or an output's defaults."""
        cdef GstStructure* s = self._fields()
        if s != NULL:
            return gst_structure_copy(s)
        s = gst_structure_new_empty(_structure_name(self._raw_name()))
        try:
            for key, value in self._raw_defaults().items():
                _set_field(s, key, value)
        except BaseException:
            gst_structure_free(s)
            raise
        return s

    cdef inline const OvfastTensor* _t(self) noexcept:
        return &self._raw.tensors[self._index]

    cdef str _raw_name(self):
        return _RAW_PREFIX + self._t().name.decode("utf-8", "replace")

    cdef dict _raw_defaults(self):
        return {"layer_name": self._t().name.decode("utf-8", "replace"),
                "model_name": self._raw.model_name.decode("utf-8", "replace"),
                "precision": _PRECISION_OF.get(self._t().element_type.decode(), 255),
                "layout": 0}

    # --- fields ------------------------------------------------------------------------------------------------
    def __getitem__(self, key):
        """The field's value (str, int, float, bool, list), or None if there is no such field."""
        if not isinstance(key, str):
            raise TypeError(f"a tensor's field name is a str, got {type(key).__name__}")
        cdef GstStructure* s = self._fields()
        if self._raw != NULL and key == "dims":
            return self.dims()
        if s == NULL:
            return self._raw_defaults().get(key) if self._raw != NULL else None
        return _field(s, key)

    def __setitem__(self, key, value):
        _set_field(self._writable("Tensor[...] ="), key, value)

    def __delitem__(self, key):
        if not isinstance(key, str):
            raise TypeError(f"a tensor's field name is a str, got {type(key).__name__}")
        gst_structure_remove_field(self._writable("del Tensor[...]"), key.encode())

    def fields(self):
        """The names of its fields."""
        cdef GstStructure* s = self._fields()
        names = _field_names(s) if s != NULL else (list(self._raw_defaults()) if self._raw != NULL else [])
        if self._raw != NULL and "dims" not in names:
            names.append("dims")
        return names

    def has_field(self, field_name):
        """Whether it has this field (gstgva says False also for a field whose value is 0 or "")."""
        return field_name in self.fields()

    def __len__(self):
        return len(self.fields())

    def __iter__(self):
        for key in self.fields():
            yield key, self[key]

    def __repr__(self):
        return repr(dict(self))

    # --- what gstgva reads -------------------------------------------------------------------------------------
    def name(self):
        """The tensor's name: "detection", a classification's, an output's ("inference_layer_name:<output>"
        until set_name), or what set_name gave."""
        cdef GstStructure* s = self._fields()
        if s == NULL:
            return self._raw_name()
        return gst_structure_get_name(s).decode("utf-8", "replace")

    def set_name(self, name):
        """Renames the tensor (a letter, then letters, digits and / - _ . : +)."""
        cdef bytes b = _structure_name(name)
        gst_structure_set_name(self._writable("Tensor.set_name"), b)

    def is_detection(self):
        return self.name() == "detection"

    def label(self):
        """The "label" field. A detection tensor has none of its own (gstgva raises RuntimeError there): it
        gives its region's label, so code that walks every tensor of a region runs."""
        value = self["label"]
        if value is None and self.is_detection() and self._region is not None:
            return self._region.label()
        return value

    def set_label(self, label):
        if not isinstance(label, str):
            raise TypeError(f"Tensor.set_label: expected a str, got {type(label).__name__}")
        if self.is_detection():
            raise RuntimeError("Tensor.set_label: a detection tensor can't have a label (as in DL Streamer); "
                               "its label is the region's")
        _set_field(self._writable("Tensor.set_label"), "label", label)

    def confidence(self):
        return self["confidence"]

    def label_id(self):
        return self["label_id"]

    def object_id(self):
        return self["object_id"]

    def format(self):
        return self["format"]

    def element_id(self):
        return self["element_id"]

    def model_name(self):
        return self["model_name"]

    def layer_name(self):
        return self["layer_name"]

    def dims(self):
        """The output's shape, a list of ints (a tensor of fields: its "dims" field)."""
        cdef const OvfastTensor* t
        if self._raw != NULL:
            self._check()
            t = self._t()
            return [t.dims[i] for i in range(t.rank)]
        return self["dims"]

    def precision(self):
        try:
            return _Precision(self["precision"])
        except ValueError:
            return _Precision.UNSPECIFIED

    def layout(self):
        try:
            return _Layout(self["layout"])
        except ValueError:
            return _Layout.ANY

    def precision_as_string(self):
        return self.precision().name

    def layout_as_string(self):
        return self.layout().name

    def data(self):
        """The data as a flat numpy array, as gstgva gives it: for an output, a read-only view of the meta's
        memory (no copy; it stays valid after the frame is released); for a tensor of fields, a copy of its
        "data_buffer" field, or None."""
        cdef const OvfastTensor* t
        cdef _TensorBlock block
        if self._raw != NULL:
            self._check()
            t = self._t()
            block = _TensorBlock.__new__(_TensorBlock)
            _block_ref(self._raw.tensors)
            block.tensors = self._raw.tensors
            dtype = _np.dtype(_DTYPES.get(t.element_type.decode(), "uint8"))
            return _array(block, <void*>t.data, (t.nbytes // dtype.itemsize,), (dtype.itemsize,), dtype, False)
        raw = self["data_buffer"]
        if not isinstance(raw, bytes):
            return None
        return _np.frombuffer(raw, dtype=_DTYPE_OF_PRECISION.get(self["precision"], "uint8")).copy()

    # --- ovfast's additions ------------------------------------------------------------------------------------
    def array(self):
        """The data shaped as dims() (an output: a read-only view, no copy)."""
        data = self.data()
        dims = self.dims()
        return data if data is None or not dims else data.reshape(dims)

    def element_type(self):
        """An output's element type as openvino.Type (None for a tensor of fields)."""
        import openvino
        if self._raw == NULL:
            return None
        self._check()
        return getattr(openvino.Type, self._t().element_type.decode())


cdef Tensor _structure_tensor(object frame, object region, GstMeta* meta, GstStructure* s):
    cdef Tensor t = Tensor.__new__(Tensor)
    t._frame, t._region, t._meta, t._s = frame, region, meta, s
    t._generation = (<VideoFrame>frame).generation
    return t


cdef Tensor _output_tensor(object frame, object region, OvfastTensorMeta* m, uint32_t index):
    cdef Tensor t = Tensor.__new__(Tensor)
    t._frame, t._region, t._meta, t._raw, t._index = frame, region, <GstMeta*>m, m, index
    t._generation = (<VideoFrame>frame).generation
    return t


cdef bint _meta_on(GstBuffer* buf, GstMeta* meta) noexcept:
    cdef gpointer state = NULL
    cdef GstMeta* m
    while True:
        m = gst_buffer_iterate_meta(buf, &state)
        if m == NULL:
            return False
        if m == meta:
            return True

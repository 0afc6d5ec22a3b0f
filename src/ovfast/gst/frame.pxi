# VideoFrame: a buffer's picture and metadata from Python, on GStreamer's C API.
#
# Lifetimes: a VideoFrame holds the buffer (through the Gst.Buffer it was given) until release(); after
# that every accessor raises. Arrays it hands out keep what they point into: data() its mapping of the
# buffer's memory, a tensor's data() the meta's reference-counted block. Neither keeps the buffer itself,
# so they never make it shared (not writable), stay valid after the frame is released and never point at
# freed memory.

cimport numpy as cnp
cnp.import_array()

import numpy as _np

_DTYPES = {"f32": "float32", "f64": "float64", "f16": "float16", "i8": "int8", "i16": "int16", "i32": "int32",
           "i64": "int64", "u8": "uint8", "u16": "uint16", "u32": "uint32", "u64": "uint64", "boolean": "bool"}


cdef class _MapHold:
    """One mapping of a buffer's memory for as long as arrays over it live. It keeps the memory (the map's own
    reference), not the buffer, so the buffer stays writable for whoever holds it."""
    cdef GstMapInfo map
    cdef bint mapped

    def __dealloc__(self):
        if self.mapped:      # what gst_buffer_unmap does, without the buffer (which may be gone by now)
            gst_memory_unmap(self.map.memory, &self.map)
            gst_memory_unref(self.map.memory)


cdef _MapHold _hold(GstBuffer* buf, int flags):
    cdef _MapHold h = _MapHold.__new__(_MapHold)
    if not gst_buffer_map(buf, &h.map, <GstMapFlags>flags):
        raise ValueError("the buffer could not be mapped" + (" for writing" if flags & GST_MAP_WRITE else ""))
    h.mapped = True
    return h


cdef class _TensorBlock:
    """A reference to an OvfastTensorMeta's block (see meta.pxi) for as long as arrays over it live."""
    cdef const OvfastTensor* tensors

    def __dealloc__(self):
        _block_unref(self.tensors)


cdef object _array(object owner, void* data, tuple shape, tuple strides, object dtype, bint writable):
    cdef object descr = _np.dtype(dtype)
    arr = _np.ndarray(shape, dtype=descr, buffer=_RawMemory(owner, <size_t>data, _extent(shape, strides, descr.itemsize),
                                                            writable), strides=strides)
    return arr


cdef size_t _extent(tuple shape, tuple strides, size_t itemsize):
    cdef size_t last = 0
    for n, s in zip(shape, strides):
        if n == 0:
            return 0
        last += (n - 1) * s
    return last + itemsize


cdef class _RawMemory:
    """A buffer-protocol view of C memory that keeps its owner alive (numpy's base)."""
    cdef object owner
    cdef void* data
    cdef Py_ssize_t size
    cdef bint writable

    def __cinit__(self, owner, size_t data, Py_ssize_t size, bint writable):
        self.owner = owner
        self.data = <void*>data
        self.size = size
        self.writable = writable

    def __getbuffer__(self, Py_buffer* view, int flags):
        if (flags & PyBUF_WRITABLE) and not self.writable:
            raise BufferError("the frame's buffer is not writable here (another element or Python holds it)")
        PyBuffer_FillInfo(view, self, self.data, self.size, not self.writable, flags)


cdef class FrameTensor:
    """One output tensor attached to a frame by ovfastinfer (an OvfastTensor of an OvfastTensorMeta)."""
    cdef _TensorBlock owner
    cdef const OvfastTensor* t
    cdef readonly int roi_id

    def name(self):
        """The output's name."""
        return self.t.name.decode()

    def dims(self):
        """The tensor's shape, a tuple of ints."""
        return tuple(self.t.dims[i] for i in range(self.t.rank))

    def element_type(self):
        """The element type, as openvino.Type."""
        import openvino
        return getattr(openvino.Type, self.t.element_type.decode())

    def data(self):
        """The tensor as a read-only numpy array over the meta's memory (no copy)."""
        etype = self.t.element_type.decode()
        dtype = _np.dtype(_DTYPES.get(etype, "uint8"))
        if etype not in _DTYPES:
            return _array(self.owner, <void*>self.t.data, (self.t.nbytes,), (1,), dtype, False)
        shape = self.dims()
        strides = []
        step = dtype.itemsize
        for n in reversed(shape):
            strides.append(step)
            step *= n
        return _array(self.owner, <void*>self.t.data, shape, tuple(reversed(strides)), dtype, False)

    def __repr__(self):
        return f"<FrameTensor {self.name()!r} {self.t.element_type.decode()}{list(self.dims())}>"


cdef class Region:
    """A region of interest on a frame (a GstVideoRegionOfInterestMeta), read when regions() was called:
    its rectangle and label, what a detector said of it ("detection": label_id, confidence), what
    classifiers said (classifications()) and the tensors inferences on it attached (tensors())."""
    cdef readonly int region_id
    cdef readonly int parent_id
    cdef str _label
    cdef tuple _rect
    cdef object _confidence
    cdef object _label_id
    cdef list _classes
    cdef list _tensors

    def label(self):
        """The region's label (its roi_type), "" if it has none."""
        return self._label

    def rect(self):
        """(x, y, width, height) in pixels of the frame."""
        return self._rect

    def confidence(self):
        """The detector's confidence ("detection" structure), else the first classification's, else None."""
        if self._confidence is None and self._classes:
            return self._classes[0]["confidence"]
        return self._confidence

    def label_id(self):
        """The detector's class id ("detection" structure), else the first classification's, else None."""
        if self._label_id is None and self._classes:
            return self._classes[0]["label_id"]
        return self._label_id

    def classifications(self):
        """What classifiers put on the region: [{"label", "label_id", "confidence"}, ...]."""
        return list(self._classes)

    def tensors(self):
        """The output tensors of inferences run on this region (FrameTensor, as VideoFrame.tensors())."""
        return list(self._tensors)

    def __repr__(self):
        return f"<Region {self.region_id} {self._label!r} {self._rect} confidence={self.confidence()}>"


cdef dict _structure_fields(const GstStructure* s):
    cdef double d
    cdef gint i
    cdef const gchar* text
    out = {}
    text = gst_structure_get_string(s, "label")
    if text != NULL:
        out["label"] = text.decode("utf-8", "replace")
    if gst_structure_get_int(s, "label_id", &i):
        out["label_id"] = i
    if gst_structure_get_double(s, "confidence", &d):
        out["confidence"] = d
    return out


cdef class VideoFrame:
    """A video frame's picture and metadata: VideoFrame(buffer, caps=None) for a Gst.Buffer (e.g. in a pad
    probe). caps (Gst.Caps or a caps string) says the picture's format; without them the buffer's
    GstVideoMeta does. Use it while the buffer is current, then release() it (or use `with`)."""
    cdef GstBuffer* buf
    cdef object holder
    cdef GstVideoInfo info
    cdef bint has_info

    def __init__(self, buffer, caps=None):
        from gi.repository import Gst
        if not isinstance(buffer, Gst.Buffer):
            raise TypeError(f"VideoFrame: expected a Gst.Buffer, got {type(buffer).__name__}")
        cdef GstBuffer* buf = <GstBuffer*>ovf_pyboxed_ptr(<PyObject*>buffer, ovf_buffer_type())
        if buf == NULL:
            raise TypeError("VideoFrame: the Gst.Buffer holds no buffer")
        self.buf = buf
        self.holder = buffer          # PyGObject's wrapper owns a reference to the buffer
        cdef GstCaps* c = NULL
        cdef GstVideoMeta* vm
        cdef guint i
        if caps is not None:
            if isinstance(caps, str):
                caps = Gst.Caps.from_string(caps)
                if caps is None:
                    raise ValueError("VideoFrame: caps could not be parsed")
            if not isinstance(caps, Gst.Caps):
                raise TypeError(f"VideoFrame: caps must be Gst.Caps or a caps string, got {type(caps).__name__}")
            c = <GstCaps*>ovf_pyboxed_ptr(<PyObject*>caps, ovf_caps_type())
            if c == NULL or not gst_video_info_from_caps(&self.info, c):
                raise ValueError(f"VideoFrame: not video caps: {caps.to_string()}")
            self.has_info = True
        vm = gst_buffer_get_video_meta(buf)
        if vm != NULL:
            if not self.has_info:
                gst_video_info_init(&self.info)
                if not gst_video_info_set_format(&self.info, vm.format, vm.width, vm.height):
                    raise ValueError("VideoFrame: the buffer's video meta has an unknown format")
                self.has_info = True
            for i in range(vm.n_planes):
                self.info.stride[i] = vm.stride[i]
                self.info.offset[i] = vm.offset[i]

    cdef GstBuffer* _buffer(self) except NULL:
        if self.buf == NULL:
            raise RuntimeError("this VideoFrame was released: its buffer may be gone (make a new VideoFrame)")
        return self.buf

    cdef GstVideoInfo* _info(self) except NULL:
        self._buffer()
        if not self.has_info:
            raise ValueError("this VideoFrame has no caps and its buffer no GstVideoMeta: pass caps "
                             "(e.g. pad.get_current_caps()) to VideoFrame(buffer, caps)")
        return &self.info

    def release(self):
        """Lets go of the buffer; the frame is unusable after this (arrays it gave stay valid)."""
        self.buf = NULL
        self.holder = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()

    @property
    def width(self):
        return self._info().width

    @property
    def height(self):
        return self._info().height

    @property
    def format(self):
        """The pixel format's GStreamer name: "BGR", "NV12", ..."""
        return ovf_info_format(self._info()).decode()

    @property
    def caps(self):
        """The frame's caps as Gst.Caps."""
        from gi.repository import Gst
        cdef GstCaps* caps = gst_video_info_to_caps(self._info())
        cdef gchar* text = gst_caps_to_string(caps)
        gst_caps_unref(caps)
        try:
            return Gst.Caps.from_string(text.decode())
        finally:
            g_free(text)

    @property
    def pts(self):
        """Presentation time in nanoseconds, or None."""
        cdef GstClockTime t = ovf_buffer_pts(self._buffer())
        return t if ovf_clock_time_is_valid(t) else None

    @property
    def writable(self):
        """Whether data() can be written: the buffer is held by nothing else (never inside a Python pad
        probe, where PyGObject's Gst.Buffer holds a second reference)."""
        return bool(ovf_buffer_is_writable(self._buffer()))

    def data(self):
        """The picture as a numpy array over the buffer's memory (no copy): (height, width, channels) for
        packed formats, (height, width) for GRAY8, (height * 3 // 2, width) for NV12 and I420 whose planes
        follow each other unpadded. Writable when the buffer is (see `writable`)."""
        cdef GstVideoInfo* info = self._info()
        cdef GstBuffer* buf = self._buffer()
        cdef bint writable = ovf_buffer_is_writable(buf)
        cdef int planes = ovf_info_planes(info)
        cdef int ps = ovf_info_pstride(info, 0)
        cdef _MapHold h
        fmt = ovf_info_format(info).decode()
        if writable:
            try:
                h = _hold(buf, GST_MAP_READWRITE)
            except ValueError:          # writable buffer, read-only memory (e.g. wrapped from bytes elsewhere)
                writable = False
        if not writable:
            h = _hold(buf, GST_MAP_READ)
        if h.map.size < info.size:
            raise ValueError(f"the buffer has {h.map.size} bytes, its caps ({fmt} {info.width}x{info.height}) "
                             f"need {info.size}")
        if planes == 1:
            if ps == 1:
                return _array(h, h.map.data + info.offset[0], (info.height, info.width), (info.stride[0], 1),
                              "uint8", writable)
            return _array(h, h.map.data + info.offset[0], (info.height, info.width, ps), (info.stride[0], ps, 1),
                          "uint8", writable)
        if fmt in ("NV12", "I420") and info.stride[0] == info.width and _contiguous(info):
            return _array(h, h.map.data + info.offset[0], (info.height * 3 // 2, info.width), (info.width, 1),
                          "uint8", writable)
        raise ValueError(f"data(): {fmt} frames of {info.width}x{info.height} have padded or separate planes "
                         f"(strides {[info.stride[i] for i in range(planes)]}); only unpadded NV12/I420 "
                         f"read as one array")

    def tensors(self):
        """The output tensors ovfastinfer attached for the whole frame (a list of FrameTensor)."""
        return self._tensors(-1)

    cdef list _tensors(self, int roi_id):
        cdef GstBuffer* buf = self._buffer()
        cdef gpointer state = NULL
        cdef GstMeta* m
        cdef OvfastTensorMeta* tm
        cdef FrameTensor t
        cdef uint32_t i
        cdef _TensorBlock block
        out = []
        if _tensor_meta_api == 0:
            return out
        while True:
            m = gst_buffer_iterate_meta_filtered(buf, &state, _tensor_meta_api)
            if m == NULL:
                break
            tm = <OvfastTensorMeta*>m
            if tm.roi_id != roi_id:
                continue
            block = _TensorBlock.__new__(_TensorBlock)
            _block_ref(tm.tensors)
            block.tensors = tm.tensors
            for i in range(tm.n_tensors):
                t = FrameTensor.__new__(FrameTensor)
                t.owner = block
                t.t = &tm.tensors[i]
                t.roi_id = tm.roi_id
                out.append(t)
        return out

    def regions(self):
        """The frame's regions of interest (GstVideoRegionOfInterestMeta from any element), as Region."""
        cdef GstBuffer* buf = self._buffer()
        cdef gpointer state = NULL
        cdef GstMeta* m
        out = []
        while True:
            m = gst_buffer_iterate_meta_filtered(buf, &state, ovf_roi_meta_api())
            if m == NULL:
                break
            out.append(self._region(<GstVideoRegionOfInterestMeta*>m))
        return out

    cdef Region _region(self, GstVideoRegionOfInterestMeta* roi):
        cdef Region r = Region.__new__(Region)
        cdef GList* p = roi.params
        cdef const gchar* name
        r.region_id = roi.id
        r.parent_id = roi.parent_id
        r._label = g_quark_to_string(roi.roi_type).decode("utf-8", "replace") if roi.roi_type else ""
        r._rect = (roi.x, roi.y, roi.w, roi.h)
        r._classes = []
        while p != NULL:
            name = gst_structure_get_name(<GstStructure*>p.data)
            fields = _structure_fields(<GstStructure*>p.data)
            if name == b"detection":
                r._confidence = fields.get("confidence")
                r._label_id = fields.get("label_id")
            elif name == b"classification":
                r._classes.append(fields)
            p = p.next
        r._tensors = self._tensors(roi.id) if roi.id >= 0 else []
        return r

    def add_region(self, int x, int y, int width, int height, str label="", confidence=None, label_id=None):
        """Adds a region of interest (with a "detection" structure when confidence or label_id is given) and
        returns it. The buffer must be writable (ovfastpython's frames are; a pad probe's are not)."""
        cdef GstBuffer* buf = self._buffer()
        cdef GstVideoInfo* info = self._info()
        if not ovf_buffer_is_writable(buf):
            raise RuntimeError("add_region: the buffer is not writable here (in a Python pad probe PyGObject holds "
                               "a second reference); add regions from ovfastpython")
        if width <= 0 or height <= 0 or x < 0 or y < 0 or x + width > info.width or y + height > info.height:
            raise ValueError(f"add_region: ({x}, {y}, {width}, {height}) is not a non-empty rectangle inside the "
                             f"{info.width}x{info.height} frame")
        if confidence is not None and not 0.0 <= confidence <= 1.0:
            raise ValueError(f"add_region: confidence must be within [0, 1], got {confidence}")
        cdef bytes name = label.encode()
        cdef GstVideoRegionOfInterestMeta* roi = ovf_add_region(buf, name, x, y, width, height)
        if roi == NULL:
            raise RuntimeError("add_region: GStreamer refused the region")
        if confidence is not None or label_id is not None:
            ovf_region_detection(roi, name, -1 if label_id is None else int(label_id),
                                 1.0 if confidence is None else float(confidence), <double>x / info.width,
                                 <double>y / info.height, <double>(x + width) / info.width,
                                 <double>(y + height) / info.height)
        return self._region(roi)

    def __repr__(self):
        if self.buf == NULL:
            return "<VideoFrame (released)>"
        if not self.has_info:
            return "<VideoFrame (no caps)>"
        return f"<VideoFrame {self.format} {self.width}x{self.height} pts={self.pts}>"


cdef VideoFrame _borrowed_frame(GstBuffer* buf, GstVideoInfo* info):
    """A frame over a buffer an element holds for the length of one call (ovfastpython); the element
    releases it after the call, so it never outlives the buffer. No reference of its own: the buffer stays
    writable for the function."""
    cdef VideoFrame f = VideoFrame.__new__(VideoFrame)
    f.buf = buf
    f.holder = True
    if info != NULL:
        f.info = info[0]
        f.has_info = True
    return f


cdef bint _contiguous(GstVideoInfo* info):
    """NV12/I420 whose planes follow each other with no padding (one array of height * 3 / 2 rows)."""
    cdef size_t w = info.width, h = info.height
    if ovf_info_planes(info) == 2:
        return info.stride[1] == w and info.offset[1] - info.offset[0] == w * h
    return (info.stride[1] * 2 == w and info.stride[2] * 2 == w and info.offset[1] - info.offset[0] == w * h
            and info.offset[2] - info.offset[1] == w * h // 4)


# --- frame counting (python -m ovfast pipeline): a C probe, no Python per buffer ----------------------------
cdef GstPadProbeReturn _count_probe(GstPad* pad, GstPadProbeInfo* info, gpointer data) noexcept nogil:
    g_atomic_int_inc(<gint*>data)
    return GST_PAD_PROBE_OK


cdef class FrameCounter:
    """Counts the buffers that pass a pad, in C."""
    cdef GstPad* pad
    cdef unsigned long probe
    cdef gint* counter
    cdef long final

    def __init__(self, pad):
        from gi.repository import Gst
        if not isinstance(pad, Gst.Pad):
            raise TypeError(f"FrameCounter: expected a Gst.Pad, got {type(pad).__name__}")
        self.pad = <GstPad*>ovf_pygobject_ptr(<PyObject*>pad)
        gst_object_ref(self.pad)
        self.counter = <gint*>g_malloc0(sizeof(gint))
        self.probe = gst_pad_add_probe(self.pad, GST_PAD_PROBE_TYPE_BUFFER, _count_probe, self.counter, <void*>g_free)

    @property
    def count(self):
        if self.probe == 0:
            return self.final
        return g_atomic_int_get(self.counter)

    def remove(self):
        if self.probe:
            self.final = g_atomic_int_get(self.counter)
            gst_pad_remove_probe(self.pad, self.probe)   # frees the counter once no probe call runs
            self.probe = 0

    def __dealloc__(self):
        if self.probe:
            gst_pad_remove_probe(self.pad, self.probe)
        if self.pad != NULL:
            gst_object_unref(self.pad)

# VideoFrame: a buffer's picture and metadata from Python, on GStreamer's C API.
#
# Lifetimes: a VideoFrame holds the buffer (through the Gst.Buffer it was given) until release(); after
# that every accessor raises. Arrays it hands out (data(), tensor data()) hold their own reference to the
# buffer and their own mapping, so they stay valid after the frame is released and never point at freed
# memory.

cimport numpy as cnp
cnp.import_array()

import numpy as _np

_DTYPES = {"f32": "float32", "f64": "float64", "f16": "float16", "i8": "int8", "i16": "int16", "i32": "int32",
           "i64": "int64", "u8": "uint8", "u16": "uint16", "u32": "uint32", "u64": "uint64", "boolean": "bool"}


cdef class _BufferHold:
    """A reference to a buffer, and optionally one mapping of it, for as long as arrays over it live."""
    cdef GstBuffer* buf
    cdef GstMapInfo map
    cdef bint mapped

    def __dealloc__(self):
        if self.mapped:
            gst_buffer_unmap(self.buf, &self.map)
        if self.buf != NULL:
            gst_buffer_unref(self.buf)


cdef _BufferHold _hold(GstBuffer* buf, int flags):
    cdef _BufferHold h = _BufferHold.__new__(_BufferHold)
    if flags:
        if not gst_buffer_map(buf, &h.map, <GstMapFlags>flags):
            raise ValueError("the buffer could not be mapped" + (" for writing" if flags & GST_MAP_WRITE else ""))
        h.mapped = True
    h.buf = gst_buffer_ref(buf)
    return h


cdef object _array(_BufferHold owner, void* data, tuple shape, tuple strides, object dtype, bint writable):
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
    cdef _BufferHold owner
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
    """A region of interest on a frame (a GstVideoRegionOfInterestMeta), read when regions() was called."""
    cdef readonly int region_id
    cdef str _label
    cdef tuple _rect
    cdef object _confidence
    cdef object _label_id

    def label(self):
        """The region's label (its roi_type), "" if it has none."""
        return self._label

    def rect(self):
        """(x, y, width, height) in pixels of the frame."""
        return self._rect

    def confidence(self):
        """The detector's confidence, from a "detection" parameter structure if one is attached, else None."""
        return self._confidence

    def label_id(self):
        """The label's index, from a "detection" parameter structure if one is attached, else None."""
        return self._label_id

    def __repr__(self):
        return f"<Region {self._label!r} {self._rect} confidence={self._confidence}>"


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
        cdef _BufferHold h
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
        cdef _BufferHold h = None
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
            if h is None:
                h = _hold(buf, 0)
            for i in range(tm.n_tensors):
                t = FrameTensor.__new__(FrameTensor)
                t.owner = h
                t.t = &tm.tensors[i]
                t.roi_id = tm.roi_id
                out.append(t)
        return out

    def regions(self):
        """The frame's regions of interest (GstVideoRegionOfInterestMeta from any element), as Region."""
        cdef GstBuffer* buf = self._buffer()
        cdef gpointer state = NULL
        cdef GstMeta* m
        cdef GstVideoRegionOfInterestMeta* roi
        cdef Region r
        cdef GList* p
        cdef double conf
        cdef gint label_id
        out = []
        while True:
            m = gst_buffer_iterate_meta_filtered(buf, &state, ovf_roi_meta_api())
            if m == NULL:
                break
            roi = <GstVideoRegionOfInterestMeta*>m
            r = Region.__new__(Region)
            r.region_id = roi.id
            r._label = g_quark_to_string(roi.roi_type).decode() if roi.roi_type else ""
            r._rect = (roi.x, roi.y, roi.w, roi.h)
            p = roi.params
            while p != NULL:
                if gst_structure_get_double(<GstStructure*>p.data, "confidence", &conf):
                    r._confidence = conf
                if gst_structure_get_int(<GstStructure*>p.data, "label_id", &label_id):
                    r._label_id = label_id
                p = p.next
            out.append(r)
        return out

    def __repr__(self):
        if self.buf == NULL:
            return "<VideoFrame (released)>"
        if not self.has_info:
            return "<VideoFrame (no caps)>"
        return f"<VideoFrame {self.format} {self.width}x{self.height} pts={self.pts}>"


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

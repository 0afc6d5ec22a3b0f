# VideoFrame: a buffer's picture and metadata from Python, on GStreamer's C API, with DL Streamer's gstgva
# API (its regions and tensors: region.pxi, tensor.pxi).
#
# Lifetimes: a VideoFrame holds the buffer (through the Gst.Buffer it was given) until release(); after
# that every accessor raises, its own and its regions' and tensors'. Arrays it hands out keep what they point
# into: data() its mapping of the buffer's memory, a tensor's data() the meta's reference-counted block.
# Neither keeps the buffer itself, so they never make it shared (not writable), stay valid after the frame
# is released and never point at freed memory.

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


cdef object _array(object owner, void* data, tuple shape, tuple strides, object dtype, bint writable,
                   object kind=_np.ndarray):
    cdef object descr = _np.dtype(dtype)
    return kind(shape, dtype=descr, buffer=_RawMemory(owner, <size_t>data, _extent(shape, strides, descr.itemsize),
                                                      writable), strides=strides)


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


class _FrameArray(_np.ndarray):
    """VideoFrame.data()'s array: a numpy array that is also its own context manager, so gstgva's
    `with frame.data() as mat:` and ovfast's `picture = frame.data()` both work."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class _Message(str):
    """A message of a frame (VideoFrame.messages()): the text, and which meta holds it for remove_message."""


cdef class VideoFrame:
    """A video frame's picture and metadata, with DL Streamer's gstgva API (`from ovfast.gst.gstgva import
    VideoFrame` is this class): VideoFrame(buffer, video_info=None, caps=None) for a Gst.Buffer, e.g. in a pad
    probe. video_info (GstVideo.VideoInfo, or Gst.Caps or a caps string, as the bindings page passes them) or
    caps say the picture's format; without them the buffer's GstVideoMeta does. Use it while the buffer is
    current, then release() it (or use `with`)."""
    cdef GstBuffer* buf
    cdef object holder
    cdef GstVideoInfo info
    cdef bint has_info
    cdef object _video_info        # GstVideo.VideoInfo, made at the first video_info()
    cdef object _wrapper           # a Gst.Buffer made for video_meta() on a frame ovfastpython lent
    cdef readonly unsigned long generation     # counts removals of metadata (and the release)

    def __init__(self, buffer, video_info=None, caps=None):
        from gi.repository import Gst, GstVideo
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
        if isinstance(video_info, GstVideo.VideoInfo):
            self._video_info = video_info
            caps = video_info.to_caps()
        elif video_info is not None:
            if caps is not None:
                raise TypeError("VideoFrame: give caps once (video_info takes a GstVideo.VideoInfo, or caps)")
            caps = video_info
        if caps is not None:
            if isinstance(caps, str):
                text = caps
                caps = Gst.Caps.from_string(text)
                if caps is None:
                    raise ValueError(f"VideoFrame: caps could not be parsed: {text!r}")
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
            raise RuntimeError("this VideoFrame was released: its buffer may be gone (ovfastpython lends a frame "
                               "for one call; in a pad probe make a new VideoFrame per buffer)")
        return self.buf

    cdef GstBuffer* _writable_buffer(self, str what) except NULL:
        cdef GstBuffer* buf = self._buffer()
        if not ovf_buffer_is_writable(buf):
            raise RuntimeError(f"{what}: the frame's buffer is not writable here. In a pad probe, take it with "
                               f"`with ovfast.gst.gstgva.util.GST_PAD_PROBE_INFO_BUFFER(info) as buffer:` (as with "
                               f"gstgva); ovfastpython's frames are writable")
        return buf

    cdef GstVideoInfo* _info(self) except NULL:
        self._buffer()
        if not self.has_info:
            raise ValueError("this VideoFrame has no caps and its buffer no GstVideoMeta: pass caps "
                             "(e.g. pad.get_current_caps()) to VideoFrame(buffer, caps=...)")
        return &self.info

    def release(self):
        """Lets go of the buffer; the frame, its regions and tensors are unusable after this (arrays they gave
        stay valid)."""
        self.buf = NULL
        self.holder = None
        self.generation += 1
        if self._wrapper is not None:
            _unlend_wrapper(self._wrapper)
            self._wrapper = None

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
        """Whether the frame can be written (data(), regions, tensors, messages): the buffer is held by nothing
        else. In a pad probe only inside util.GST_PAD_PROBE_INFO_BUFFER."""
        return bool(ovf_buffer_is_writable(self._buffer()))

    def video_info(self):
        """The frame's GstVideo.VideoInfo."""
        from gi.repository import GstVideo
        self._info()
        if self._video_info is None:
            self._video_info = GstVideo.VideoInfo.new_from_caps(self.caps)
        return self._video_info

    def video_meta(self):
        """The buffer's GstVideo.VideoMeta, or None."""
        from gi.repository import GstVideo
        self._buffer()
        if isinstance(self.holder, bool):          # lent by ovfastpython: a Gst.Buffer that does not own it
            if self._wrapper is None:
                self._wrapper = _lent_wrapper(self.buf)
            return GstVideo.buffer_get_video_meta(self._wrapper)
        return GstVideo.buffer_get_video_meta(self.holder)

    def data(self, flag=None):
        """The picture as a numpy array over the buffer's memory (no copy), (rows, width, bytes per pixel):
        (height, width, channels) for packed formats, (height * 3 // 2, width, 1) for NV12 and I420 whose planes
        follow each other unpadded. Writable when the buffer is (see `writable`); also a context manager
        (`with frame.data() as mat:`). flag: Gst.MapFlags, as gstgva takes it; with WRITE the buffer must be
        writable."""
        cdef GstVideoInfo* info = self._info()
        cdef GstBuffer* buf = self._buffer()
        cdef bint writable = ovf_buffer_is_writable(buf)
        cdef int planes = ovf_info_planes(info)
        cdef int ps = ovf_info_pstride(info, 0)
        cdef _MapHold h
        if flag is not None and int(flag) & GST_MAP_WRITE:
            self._writable_buffer("data(Gst.MapFlags.WRITE)")
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
            return _array(h, h.map.data + info.offset[0], (info.height, info.width, ps), (info.stride[0], ps, 1),
                          "uint8", writable, _FrameArray)
        if fmt in ("NV12", "I420") and info.stride[0] == info.width and _contiguous(info):
            return _array(h, h.map.data + info.offset[0], (info.height * 3 // 2, info.width, 1), (info.width, 1, 1),
                          "uint8", writable, _FrameArray)
        raise ValueError(f"data(): {fmt} frames of {info.width}x{info.height} have padded or separate planes "
                         f"(strides {[info.stride[i] for i in range(planes)]}); only unpadded NV12/I420 "
                         f"read as one array")

    # --- metadata ----------------------------------------------------------------------------------------------
    def tensors(self):
        """The frame's tensors (gstgva's Tensor): the outputs ovfastinfer attached for the whole frame and the
        tensors add_tensor() added, in the order they were attached."""
        cdef GstBuffer* buf = self._buffer()
        cdef gpointer state = NULL
        cdef GstMeta* m
        cdef uint32_t i
        out = []
        while True:
            m = gst_buffer_iterate_meta(buf, &state)
            if m == NULL:
                return out
            if m.info.api == _tensor_meta_api and (<OvfastTensorMeta*>m).roi_id == 0:
                for i in range((<OvfastTensorMeta*>m).n_tensors):
                    out.append(_output_tensor(self, None, <OvfastTensorMeta*>m, i))
            elif m.info.api == _fields_meta_api and (<OvfastFieldsMeta*>m).data != NULL:
                out.append(_structure_tensor(self, None, m, (<OvfastFieldsMeta*>m).data))

    cdef list _outputs(self, int roi_id, object region):
        """The outputs of the inferences ovfastinfer ran on region roi_id (0: the whole frame)."""
        cdef GstBuffer* buf = self._buffer()
        cdef gpointer state = NULL
        cdef GstMeta* m
        cdef uint32_t i
        out = []
        if _tensor_meta_api == 0:
            return out
        while True:
            m = gst_buffer_iterate_meta_filtered(buf, &state, _tensor_meta_api)
            if m == NULL:
                return out
            if (<OvfastTensorMeta*>m).roi_id == roi_id:
                for i in range((<OvfastTensorMeta*>m).n_tensors):
                    out.append(_output_tensor(self, region, <OvfastTensorMeta*>m, i))

    def add_tensor(self):
        """Adds an empty tensor of fields to the whole frame (an OvfastFieldsMeta) and returns it."""
        cdef GstBuffer* buf = self._writable_buffer("add_tensor")
        cdef OvfastFieldsMeta* m = _fields_meta_add(buf, gst_structure_new_empty("meta"))
        if m == NULL:
            raise RuntimeError("add_tensor: GStreamer refused the meta")
        return _structure_tensor(self, None, <GstMeta*>m, m.data)

    def regions(self):
        """The frame's regions of interest (GstVideoRegionOfInterestMeta from any element), a list of
        RegionOfInterest."""
        cdef GstBuffer* buf = self._buffer()
        cdef gpointer state = NULL
        cdef GstMeta* m
        out = []
        while True:
            m = gst_buffer_iterate_meta_filtered(buf, &state, ovf_roi_meta_api())
            if m == NULL:
                return out
            out.append(_region_of(self, <GstVideoRegionOfInterestMeta*>m))

    def add_region(self, x, y, w, h, label="", confidence=0.0, normalized=False, extra_params=None,
                   label_id=None):
        """Adds a region of interest with a "detection" tensor (confidence, x_min ... normalised to the frame,
        extra_params as JSON in extra_params_json, label_id if given) and returns it. normalized: x, y, w, h
        are fractions of the frame. A rectangle out of the frame is clipped to it, with a warning, as gstgva
        does. The buffer must be writable (see `writable`)."""
        cdef GstBuffer* buf = self._writable_buffer("add_region")
        cdef GstVideoInfo* info = self._info()
        if not isinstance(label, str):
            raise TypeError(f"add_region: label must be a str, got {type(label).__name__}")
        for arg, v in (("x", x), ("y", y), ("w", w), ("h", h), ("confidence", confidence)):
            if not isinstance(v, _numbers.Real) or isinstance(v, bool) or v != v:
                raise TypeError(f"add_region: {arg} must be a number, got {v!r}")
        if not 0.0 <= confidence <= 1.0:
            raise ValueError(f"add_region: confidence must be within [0, 1], got {confidence}")
        if label_id is not None and (not isinstance(label_id, _numbers.Integral) or isinstance(label_id, bool)):
            raise TypeError(f"add_region: label_id must be an int, got {label_id!r}")
        if normalized:
            x, y, w, h = x * info.width, y * info.height, w * info.width, h * info.height
        x, y, w, h = int(x), int(y), int(w), int(h)
        if x < 0 or y < 0 or w < 0 or h < 0 or x + w > info.width or y + h > info.height:
            fx, fy = min(max(x, 0), info.width), min(max(y, 0), info.height)
            fw, fh = min(max(w, 0), info.width - fx), min(max(h, 0), info.height - fy)
            import warnings
            warnings.warn(f"ROI coordinates [x, y, w, h] are out of image borders and will be clipped: "
                          f"[{x}, {y}, {w}, {h}] -> [{fx}, {fy}, {fw}, {fh}]", stacklevel=2)
            x, y, w, h = fx, fy, fw, fh
        extra = None
        if extra_params is not None:
            import json
            extra = json.dumps(extra_params)
        cdef bytes name = label.encode()
        cdef GstVideoRegionOfInterestMeta* roi = ovf_add_region(buf, name, x, y, w, h)
        if roi == NULL:
            raise RuntimeError("add_region: GStreamer refused the region")
        cdef GstStructure* d = gst_structure_new_empty("detection")
        gst_video_region_of_interest_meta_add_param(roi, d)
        _set_field(d, "confidence", float(confidence))
        if label_id is not None:
            _set_field(d, "label_id", label_id)
        _set_field(d, "x_min", x / info.width)
        _set_field(d, "x_max", (x + w) / info.width)
        _set_field(d, "y_min", y / info.height)
        _set_field(d, "y_max", (y + h) / info.height)
        if extra is not None:
            _set_field(d, "extra_params_json", extra)
        return _region_of(self, roi)

    def remove_region(self, roi):
        """Removes a region of this frame (and the outputs ovfastinfer attached for it)."""
        if not isinstance(roi, RegionOfInterest):
            raise TypeError(f"remove_region: expected a RegionOfInterest, got {type(roi).__name__}")
        cdef RegionOfInterest r = <RegionOfInterest>roi
        cdef GstBuffer* buf = self._writable_buffer("remove_region")
        if r._frame is not self or not _meta_on(buf, <GstMeta*>r._m) or r._m.id != r._id:
            raise RuntimeError("remove_region: the RegionOfInterest doesn't belong to this VideoFrame")
        cdef gint rid = r._m.id
        gst_buffer_remove_meta(buf, <GstMeta*>r._m)
        self._remove_outputs(buf, rid)
        self.generation += 1

    cdef void _remove_outputs(self, GstBuffer* buf, gint roi_id):
        cdef gpointer state = NULL
        cdef GstMeta* m
        if _tensor_meta_api == 0 or roi_id == 0:
            return
        while True:
            m = gst_buffer_iterate_meta_filtered(buf, &state, _tensor_meta_api)
            if m == NULL:
                return
            if (<OvfastTensorMeta*>m).roi_id == roi_id:
                gst_buffer_remove_meta(buf, m)
                state = NULL          # the iteration starts over: removing invalidates its position

    def messages(self):
        """The frame's messages (str), in the order they were added."""
        cdef GstBuffer* buf = self._buffer()
        cdef gpointer state = NULL
        cdef GstMeta* m
        out = []
        if _json_meta_api == 0:
            return out
        while True:
            m = gst_buffer_iterate_meta_filtered(buf, &state, _json_meta_api)
            if m == NULL:
                return out
            text = (<OvfastJSONMeta*>m).message
            msg = _Message((<bytes>text).decode("utf-8", "replace") if text != NULL else "")
            msg._frame, msg._meta = self, <size_t>m
            out.append(msg)

    def add_message(self, message):
        """Attaches a message (a str; DL Streamer's elements expect JSON) to the frame."""
        if not isinstance(message, str):
            raise TypeError(f"add_message: expected a str, got {type(message).__name__}")
        cdef bytes text = message.encode("utf-8")
        if b"\0" in text:
            raise ValueError("add_message: the message holds a NUL character")
        cdef GstBuffer* buf = self._writable_buffer("add_message")
        if _json_meta_add(buf, text) == NULL:
            raise RuntimeError("add_message: GStreamer refused the meta")

    def remove_message(self, message):
        """Removes a message that messages() returned for this frame."""
        cdef GstBuffer* buf = self._writable_buffer("remove_message")
        if (not isinstance(message, _Message) or message._frame is not self
                or not _meta_on(buf, <GstMeta*><size_t>message._meta)
                or (<OvfastJSONMeta*><size_t>message._meta).message != (<str>message).encode("utf-8")):
            raise RuntimeError("remove_message: the message doesn't belong to this VideoFrame (pass one that "
                               "messages() returned)")
        gst_buffer_remove_meta(buf, <GstMeta*><size_t>message._meta)
        self.generation += 1

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


cdef object _lent_wrapper(GstBuffer* buf):
    """A Gst.Buffer over buf that does not own it (gvapython lends buffers to Python so); _unlend_wrapper points
    it at nothing when the frame is released."""
    from gi.repository import Gst
    wrapper = Gst.Buffer.new()
    gst_buffer_unref(<GstBuffer*>ovf_pyboxed_lend(<PyObject*>wrapper, buf))
    return wrapper


cdef void _unlend_wrapper(object wrapper):
    ovf_pyboxed_lend(<PyObject*>wrapper, NULL)


def _probe_buffer_unshare(buffer):
    """util.GST_PAD_PROBE_INFO_BUFFER's first half: drops the reference PyGObject's Gst.Buffer added, so a buffer
    that only the pad and this wrapper hold is writable. True if it dropped one (then _probe_buffer_reshare)."""
    from gi.repository import Gst
    if not isinstance(buffer, Gst.Buffer):
        raise TypeError(f"expected a Gst.Buffer, got {type(buffer).__name__}")
    cdef GstMiniObject* mo = <GstMiniObject*>ovf_pyboxed_ptr(<PyObject*>buffer, ovf_buffer_type())
    if mo == NULL or g_atomic_int_get(&mo.refcount) < 2:
        return False
    g_atomic_int_add(&mo.refcount, -1)
    return True


def _probe_buffer_reshare(buffer):
    cdef GstMiniObject* mo = <GstMiniObject*>ovf_pyboxed_ptr(<PyObject*>buffer, ovf_buffer_type())
    if mo != NULL:
        g_atomic_int_inc(&mo.refcount)


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

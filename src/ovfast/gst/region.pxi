# RegionOfInterest: gstgva's RegionOfInterest over a GstVideoRegionOfInterestMeta. Its tensors are its params
# (detection, classification, anything added) and the outputs ovfastinfer ran on it (OvfastTensorMeta with its
# id); an object id is a param named "object_id", as DL Streamer keeps it.

from collections import namedtuple as _namedtuple

Rect = _namedtuple("Rect", "x y w h")


cdef class RegionOfInterest:
    """A region of interest on a frame: its rectangle, label and tensors. gstgva's RegionOfInterest:
    `from ovfast.gst.gstgva import RegionOfInterest`."""
    cdef object _frame
    cdef GstVideoRegionOfInterestMeta* _m
    cdef gint _id                      # its id when it was read: a meta that took its place has another
    cdef unsigned long _generation

    def __init__(self, *args, **kwargs):
        raise TypeError("RegionOfInterest objects come from VideoFrame.regions() and VideoFrame.add_region()")

    cdef GstVideoRegionOfInterestMeta* _check(self) except NULL:
        cdef VideoFrame frame = <VideoFrame>self._frame
        cdef GstBuffer* buf = frame._buffer()
        if self._generation != frame.generation:
            if not _meta_on(buf, <GstMeta*>self._m) or self._m.id != self._id:
                raise RuntimeError("this RegionOfInterest was removed from its frame")
            self._generation = frame.generation
        return self._m

    cdef GstStructure* _param(self, const char* name):
        cdef GList* p = self._check().params
        while p != NULL:
            if gst_structure_has_name(<GstStructure*>p.data, name):
                return <GstStructure*>p.data
            p = p.next
        return NULL

    cdef Tensor _add(self, GstStructure* s, str what):
        """Adds s (taken) as a param and returns its Tensor; the buffer must be writable."""
        cdef GstVideoRegionOfInterestMeta* m
        try:
            (<VideoFrame>self._frame)._writable_buffer(what)
            m = self._check()
        except BaseException:
            gst_structure_free(s)
            raise
        gst_video_region_of_interest_meta_add_param(m, s)
        return _structure_tensor(self._frame, self, <GstMeta*>m, s)

    def rect(self):
        """Its rectangle in pixels of the frame: Rect(x, y, w, h), a named tuple."""
        cdef GstVideoRegionOfInterestMeta* m = self._check()
        return Rect(m.x, m.y, m.w, m.h)

    def normalized_rect(self):
        """Its rectangle as fractions of the frame: the detection's x_min ... if it has them, else computed."""
        cdef GstStructure* d = self._param("detection")
        if d != NULL and all(_field(d, k) is not None for k in ("x_min", "y_min", "x_max", "y_max")):
            x0, y0, x1, y1 = (_field(d, k) for k in ("x_min", "y_min", "x_max", "y_max"))
            return Rect(x0, y0, x1 - x0, y1 - y0)
        r = self.rect()
        frame = <VideoFrame>self._frame
        w, h = frame.width, frame.height
        return Rect(r.x / w, r.y / h, r.w / w, r.h / h)

    def label(self):
        """Its label (the meta's roi_type), "" if it has none."""
        cdef GstVideoRegionOfInterestMeta* m = self._check()
        return g_quark_to_string(m.roi_type).decode("utf-8", "replace") if m.roi_type else ""

    def region_id(self):
        """Its id: unique in the process for regions ovfast added (never 0)."""
        return self._check().id

    def parent_id(self):
        """The id of the region it was found in, 0 if none."""
        return self._check().parent_id

    def confidence(self):
        """The detection's confidence, or None."""
        cdef GstStructure* d = self._param("detection")
        return None if d == NULL else _field(d, "confidence")

    def label_id(self):
        """The detection's class id, or None."""
        cdef GstStructure* d = self._param("detection")
        return None if d == NULL else _field(d, "label_id")

    def object_id(self):
        """The object id a tracker (or set_object_id) gave it, or None."""
        cdef GstStructure* s = self._param("object_id")
        return None if s == NULL else _field(s, "id")

    def set_object_id(self, object_id):
        if not isinstance(object_id, _numbers.Integral) or isinstance(object_id, bool):
            raise TypeError(f"set_object_id: expected an int, got {type(object_id).__name__}")
        cdef GstStructure* s = self._param("object_id")
        if s == NULL:
            s = (<Tensor>self._add(gst_structure_new_empty("object_id"), "set_object_id"))._s
        else:
            (<VideoFrame>self._frame)._writable_buffer("set_object_id")
        _set_field(s, "id", object_id)

    def detection(self):
        """The "detection" tensor, added (empty) if it has none, as gstgva does."""
        cdef GstStructure* s = self._param("detection")
        if s != NULL:
            return _structure_tensor(self._frame, self, <GstMeta*>self._m, s)
        return self._add(gst_structure_new_empty("detection"), "detection")

    def tensors(self):
        """Its tensors: every param but the object id (detection, classifications, added ones), then the
        outputs of inferences ovfastinfer ran on it."""
        cdef GstVideoRegionOfInterestMeta* m = self._check()
        cdef GList* p = m.params
        out = []
        while p != NULL:
            if not gst_structure_has_name(<GstStructure*>p.data, "object_id"):
                out.append(_structure_tensor(self._frame, self, <GstMeta*>m, <GstStructure*>p.data))
            p = p.next
        out.extend((<VideoFrame>self._frame)._outputs(m.id, self))
        return out

    def add_tensor(self, name="", tensor=None):
        """Adds a tensor named name ("tensor" if empty and no tensor is given), a copy of tensor's fields if one
        is given, and returns it."""
        cdef GstStructure* s
        if tensor is not None:
            if not isinstance(tensor, Tensor):
                raise TypeError(f"add_tensor: tensor must be a Tensor, got {type(tensor).__name__}")
            s = (<Tensor>tensor)._fields_copy()
            if name:
                try:
                    gst_structure_set_name(s, _structure_name(name))
                except BaseException:
                    gst_structure_free(s)
                    raise
        else:
            s = gst_structure_new_empty(_structure_name(name or "tensor"))
        return self._add(s, "add_tensor")

    def meta(self):
        """The GstVideoRegionOfInterestMeta as gstgva's ctypes structure (util.VideoRegionOfInterestMeta)."""
        from ovfast.gst.gstgva.util import VideoRegionOfInterestMeta
        return VideoRegionOfInterestMeta.from_address(<size_t>self._check())

    # --- ovfast's additions ------------------------------------------------------------------------------------
    def classifications(self):
        """What classifiers put on it: [{"label", "label_id", "confidence"}, ...]."""
        cdef GList* p = self._check().params
        out = []
        while p != NULL:
            if gst_structure_has_name(<GstStructure*>p.data, "classification"):
                fields = {k: _field(<GstStructure*>p.data, k) for k in ("label", "label_id", "confidence")}
                out.append({k: v for k, v in fields.items() if v is not None})
            p = p.next
        return out

    def __repr__(self):
        try:
            return f"<RegionOfInterest {self.region_id()} {self.label()!r} {tuple(self.rect())} " \
                   f"confidence={self.confidence()}>"
        except RuntimeError as exc:
            return f"<RegionOfInterest ({exc})>"


cdef RegionOfInterest _region_of(object frame, GstVideoRegionOfInterestMeta* m):
    cdef RegionOfInterest r = RegionOfInterest.__new__(RegionOfInterest)
    r._frame, r._m, r._id, r._generation = frame, m, m.id, (<VideoFrame>frame).generation
    return r

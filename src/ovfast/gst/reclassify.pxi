# ovfastinfer's reclassify-interval: which tracked objects' regions run again (reclassify.h). infer.pxi asks per
# region, records each run's results and copies them onto the frames that skipped the object.

cdef extern from "track.h" nogil:
    gint ovf_region_object_id(GstVideoRegionOfInterestMeta*)

cdef extern from "reclassify.h" nogil:
    ctypedef struct ovf_reclassify:
        pass
    ctypedef struct ovf_reclassify_skip:
        gint roi_id
        gint object_id
        guint64 source
    ovf_reclassify* ovf_reclassify_new()
    void ovf_reclassify_free(ovf_reclassify*)
    int ovf_reclassify_due(ovf_reclassify*, gint object_id, guint64 frame, guint interval, guint64* source)
    void ovf_reclassify_record(ovf_reclassify*, gint object_id, guint64 frame, GstVideoRegionOfInterestMeta*,
                               guint first)
    void ovf_reclassify_copy(ovf_reclassify*, const ovf_reclassify_skip*, GstVideoRegionOfInterestMeta*)
    guint g_list_length(GList*)

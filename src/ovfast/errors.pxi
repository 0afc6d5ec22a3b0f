# The one way a C status becomes a Python exception.
#
# ov_get_last_err_msg() is process-wide: another thread may have overwritten it by the time we read it,
# so the status code decides the exception class and the text is only a best-effort detail.
# A message starts with OpenVINO's own words (as openvino's would), then names the ovfast call.
# Mistakes ovfast finds before calling OpenVINO use _exc.says(), which starts with openvino's words too.

cdef object failure(int status, str detail, str what):
    """The exception for a failed OpenVINO call or run: OpenVINO's words (detail), then the ovfast call."""
    return _exc.from_status(status, f"{_exc.openvino_words(detail)} ({what} failed)")


cdef object _status_error(int status, str what):
    cdef const char* msg = ov_get_last_err_msg()
    if msg != NULL:
        detail = msg.decode("utf-8", "replace").strip()
        ov_free(msg)
    else:
        detail = ov_get_error_info(<ov_status_e>status).decode("utf-8", "replace")
    return failure(status, detail, what)


cdef int check(ov_status_e status, const char* what) except -1 nogil:
    """Raises the matching OVError unless status is OK; takes the GIL only on failure."""
    if status == OK:
        return 0
    with gil:
        raise _status_error(<int>status, what.decode("ascii"))


cdef int check_ctx(ov_status_e status, str what) except -1:
    """check() for call sites that hold the GIL and want a message with run-time detail."""
    if status == OK:
        return 0
    raise _status_error(<int>status, what)


cdef object bridge_error(str what, RuntimeError e):
    """What _bridge.hpp throws (Cython's `except +` makes it a RuntimeError), as the OVError a failed C
    call gives: OpenVINO's C++ exceptions are the GENERAL_ERROR the C API would report."""
    return failure(GENERAL_ERROR, str(e), what)

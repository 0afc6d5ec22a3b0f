"""Plain records returned by ovfast: versions and per-layer profiling."""

import datetime

import openvino as _ov


class Version:
    """A plugin's version, as openvino.Version (build_number, description, major/minor/patch)."""

    __slots__ = ("build_number", "description")

    def __init__(self, build_number, description):
        self.build_number = build_number
        self.description = description

    def _part(self, i):
        head = self.build_number.split("-")[0].split(".")
        return int(head[i]) if i < len(head) and head[i].isdigit() else 0

    major = property(lambda self: self._part(0))
    minor = property(lambda self: self._part(1))
    patch = property(lambda self: self._part(2))

    def __repr__(self):
        return f"<Version: {self.build_number} {self.description}>"


class ProfilingInfo:
    """One layer's profiling record, as openvino.ProfilingInfo (times are timedelta, status its enum)."""

    Status = _ov.ProfilingInfo.Status  # openvino's own enum, so comparisons with it hold
    __slots__ = ("status", "real_time", "cpu_time", "node_name", "exec_type", "node_type")

    def __init__(self, status, real_time_us, cpu_time_us, node_name, exec_type, node_type):
        self.status = self.Status(status)
        self.real_time = datetime.timedelta(microseconds=real_time_us)
        self.cpu_time = datetime.timedelta(microseconds=cpu_time_us)
        self.node_name = node_name
        self.exec_type = exec_type
        self.node_type = node_type

    def __repr__(self):
        return (f"<ProfilingInfo {self.node_name} ({self.node_type}, {self.exec_type}): {self.status}, "
                f"real {self.real_time}>")

"""model-instance-id (DL Streamer's name): ovfastinfer elements of one process that name the same instance
share one model, compiled once per caps, and its job pool or, with batch-size above 1, its DynamicBatcher, so
N streams cost one model's memory and run in batches across streams.

As in DL Streamer, the first element to open with a model gives the instance its settings; an element that
names no model takes them. Where DL Streamer would quietly use the first element's values, an element that
sets other ones is refused, naming the property: two models, devices or batch sizes cannot share one
compilation. Elements of an instance take the same caps (the frame's format and size are compiled into the
model), as DL Streamer asks of one instance's formats."""

import os
import threading

from ovfast.gst._model import REGION_NAMES, CapsError, SettingsError, parse_config

# what the elements of an instance share: (property, DL Streamer's name or None, index in load()'s settings)
_SHARED = [("model", None, 0), ("device", None, 1), ("config", "ie-config", 2), ("jobs", "nireq", 3),
           ("output", None, 4), ("region", "inference-region", 6), ("labels", "labels-file", 7),
           ("roi-label", "object-class", 8), ("batch-size", None, 9), ("batch-timeout", None, 10),
           ("model-proc", None, 11)]

_lock = threading.RLock()     # held while a session compiles: the others of the instance wait for it
_instances = {}


def _canonical(index, value):
    """A setting as compared between elements: paths resolved, config parsed, 0 and 1 the same batch."""
    if index in (0, 11):
        return os.path.realpath(value) if value else ""
    if index == 1:
        return value or "CPU"
    if index == 2:
        return parse_config(value)
    if index == 6:
        return REGION_NAMES.get(value, value)
    if index == 9:
        return max(value, 1)
    return value or ""


class Instance:
    """One model-instance-id: its members (the open elements), the settings of the first with a model and the
    session compiled for the caps its members take."""

    def __init__(self, name):
        self.name = name
        self.members = []          # Member objects of the elements open (READY and up)
        self.settings = None       # load()'s settings of the first member with a model
        self.loaded = None         # that model, read once
        self.session = None
        self.caps = None           # what the session was compiled for
        self.holders = 0           # elements whose session it is

    def check(self, settings):
        """Refuses a member with a model whose shared settings differ from the instance's."""
        for prop, dls, i in _SHARED:
            mine, theirs = _canonical(i, settings[i]), _canonical(i, self.settings[i])
            if mine != theirs:
                alias = f" ({dls})" if dls else ""
                raise SettingsError(
                    f"model-instance-id={self.name!r} is shared with an element whose {prop}{alias} is "
                    f"{self.settings[i]!r}, but this element sets {prop}={settings[i]!r}: elements sharing an "
                    f"instance take the same model, device, config, jobs, output, region, labels, roi-label, "
                    f"batch-size and batch-timeout (leave them unset on all but one, or give this element "
                    f"another model-instance-id)")

    def acquire(self, caps, build):
        """The session for these caps: the instance's, or compiled now by build(Loaded)."""
        if self.loaded is None:
            raise SettingsError(f"no model: no element with model-instance-id={self.name!r} has one; set the "
                                f"model property on one of them")
        if self.session is not None and self.caps != caps:
            if self.holders:
                raise CapsError(f"model-instance-id={self.name!r} is compiled for {_describe(self.caps)}, but this "
                                f"element's frames are {_describe(caps)}: elements sharing an instance take the same "
                                f"caps (convert with videoconvert and videoscale before this element, or give it "
                                f"another model-instance-id)")
            self.session.close()
            self.session = None
        if self.session is None:
            self.session = build(self.loaded)
            self.session.owner = self
            self.caps = caps
        self.holders += 1
        return self.session

    def release(self, session):
        with _lock:
            if session is not self.session:
                return
            self.holders -= 1
            if self.holders == 0:
                self.session = None
                session.close()
            self._forget_if_unused()

    def _forget_if_unused(self):
        if not self.members and self.session is None and _instances.get(self.name) is self:
            del _instances[self.name]


def _describe(caps):
    fmt, width, height, strides, offsets, size = caps
    return f"{fmt} {width}x{height} (strides {list(strides)}, {size} bytes)"


class Member:
    """An element's membership of an instance: what load() returns for it, with Loaded's session()."""

    def __init__(self, instance):
        self.instance = instance

    def session(self, fmt, width, height, strides, offsets, size):
        caps = (fmt, width, height, tuple(strides), tuple(offsets), size)
        with _lock:
            return self.instance.acquire(caps, lambda loaded: loaded.session(fmt, width, height, strides, offsets,
                                                                             size))

    def release(self):
        """The element closes (READY -> NULL)."""
        with _lock:
            if self in self.instance.members:
                self.instance.members.remove(self)
            self.instance._forget_if_unused()


def join(name, settings, load):
    """An element opens as a member of instance `name`; with a model (settings[0]) the first one's settings
    are the instance's (load() reads the model), later ones must match them."""
    with _lock:
        instance = _instances.get(name)
        if instance is None:
            instance = _instances[name] = Instance(name)
        if settings[0]:
            if instance.settings is None:
                try:
                    instance.loaded = load()
                except BaseException:
                    instance._forget_if_unused()
                    raise
                instance.settings = settings
            else:
                instance.check(settings)
        member = Member(instance)
        instance.members.append(member)
        return member

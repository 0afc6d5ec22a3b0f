# Core: reading and compiling models, devices and their properties.


cdef void _core_free(ov_core_t* core) noexcept nogil:
    """Frees a Core; its plugin instances may go with it (_altstack.h)."""
    cdef ovf_altstack alt
    ovf_altstack_save(&alt)
    ov_core_free(core)
    ovf_altstack_restore(&alt)

cdef class Core:
    """openvino.Core's runtime API on the C API. read_model returns an openvino.Model."""

    def __cinit__(self, *args, **kwargs):
        cdef ov_core_t* p = NULL
        cdef ov_status_e st
        with nogil:
            st = ov_core_create(&p)
        check(st, b"ov_core_create")
        self.ptr = p

    def __init__(self, config_file=None):
        """config_file: a plugins XML (device names and their libraries), as openvino.Core takes."""
        cdef ov_core_t* p = NULL
        cdef ov_status_e st
        cdef bytes path
        cdef const char* cpath
        if config_file is None or config_file == "":
            return
        path = os.fsencode(config_file)
        cpath = path
        with nogil:
            st = ov_core_create_with_config(cpath, &p)
        check_ctx(st, f"Core({config_file!r})")
        _core_free(self.ptr)
        self.ptr = p
        self._config_file = os.fsdecode(path)

    def __dealloc__(self):
        if self.ptr != NULL:
            _core_free(self.ptr)
            self.ptr = NULL

    # --- models ---------------------------------------------------------------------------------------

    def read_model(self, model, weights=None, config=None):
        """Reads a model with openvino (model building and graphs stay openvino's): an openvino.Model."""
        kwargs = {} if config is None else {"config": config}
        if weights is None:
            return self._openvino_core().read_model(model, **kwargs)
        return self._openvino_core().read_model(model, weights, **kwargs)

    cdef object _openvino_core(self):
        """An openvino.Core with this Core's plugins, for what only openvino's Python objects can hold."""
        if self._ov_core is None:
            self._ov_core = _ov.Core(self._config_file) if self._config_file else _ov.Core()
        return self._ov_core

    def compile_model(self, model, device_name=None, config=None, *, weights=None):
        """Compiles an openvino.Model, a model file path (IR, ONNX, ...) or IR XML bytes for a device
        (None: AUTO); config is a dict of properties. With weights (bytes of the IR's .bin), model is the
        IR's XML text (str or bytes), as in openvino."""
        return _sugar.compile_model(self, model, device_name, config, weights)

    # One primitive per kind of model, which _sugar.compile_model picks: device is the device name's bytes,
    # pairs the config as _properties.to_pairs gives it.

    def _compile_ov_model(self, model, bytes device, list pairs):
        cdef ov_model_t* m = ovf_model_from_address(model._get_raw_address())
        if m == NULL:
            raise _exc.OVError(f"{_sugar.compile_context(device)}: could not take a reference to the openvino.Model")
        try:
            return compile_c_model(self, m, device, pairs)
        finally:
            ovf_model_release(m)

    def _compile_ir(self, bytes xml, weights, bytes device, list pairs):
        cdef ov_model_t* m = self._model_from_ir_bytes(xml, weights)
        try:
            return compile_c_model(self, m, device, pairs)
        finally:
            ov_model_free(m)

    def _compile_file(self, bytes path, bytes device, list pairs):
        cdef ov_compiled_model_t* out = NULL
        cdef ov_status_e st
        cdef _PropertyList props = _PropertyList(pairs)
        cdef const char* cpath = path
        cdef const char* cdevice = device
        cdef ovf_altstack alt
        with nogil:
            ovf_altstack_save(&alt)
            st = ov_core_compile_model_from_file_props(self.ptr, cpath, cdevice, props.n, props.items, &out)
            ovf_altstack_restore(&alt)
        check_ctx(st, _sugar.compile_context(device))
        return make_compiled_model(out, self, device.decode())

    cdef ov_model_t* _model_from_ir_bytes(self, bytes xml, object weights=None) except NULL:
        cdef ov_model_t* m = NULL
        cdef const char* data = xml
        cdef size_t n = len(xml)
        cdef ov_status_e st
        cdef ov_tensor_t* w = NULL
        cdef void* wdata = NULL
        cdef dims_t d
        cdef const unsigned char[::1] blob
        if weights is not None:
            # copied into a tensor OpenVINO owns: the model's constants may go on pointing into it
            blob = memoryview(weights).cast("B")
            d.rank, d.d[0] = 1, blob.shape[0]
            check(ov_tensor_create(U8, as_shape(&d), &w), b"ov_tensor_create")
            if blob.shape[0]:
                st = ov_tensor_data(w, &wdata)
                if st != OK:
                    ov_tensor_free(w)
                    check(st, b"ov_tensor_data")
                memcpy(wdata, &blob[0], blob.shape[0])
        try:
            with nogil:
                st = ov_core_read_model_from_memory_buffer(self.ptr, data, n, w, &m)
        finally:
            if w != NULL:
                ov_tensor_free(w)
        check(st, b"read_model(IR bytes)")
        return m

    def import_model(self, model_stream, device_name, config=None):
        """A CompiledModel from a blob made by export_model (bytes, or a binary file object).
        config, if given, is set on the device of this Core before the import (the C API import takes none)."""
        cdef ov_compiled_model_t* out = NULL
        cdef ov_status_e st
        if hasattr(model_stream, "getvalue"):
            # the whole buffer, as openvino reads it: right after export_model(stream) its position is at the end
            model_stream = model_stream.getvalue()
        elif hasattr(model_stream, "read"):
            model_stream = model_stream.read()
        elif not isinstance(model_stream, (bytes, bytearray, memoryview)):   # bytes(5) would be 5 zero bytes
            raise _exc.says(_exc.InputTypeError, "import stream", f"(import_model takes the blob as bytes or a "
                            f"binary file object, got {type(model_stream).__name__})", value=model_stream)
        cdef bytes blob = bytes(model_stream)
        cdef bytes bdevice = device_name.encode()
        cdef const char* cdevice = bdevice
        cdef const char* data = blob
        cdef size_t n = len(blob)
        if config:
            self.set_property(device_name, config)
        cdef ovf_altstack alt
        with nogil:
            ovf_altstack_save(&alt)
            st = ov_core_import_model(self.ptr, data, n, cdevice, &out)
            ovf_altstack_restore(&alt)
        check_ctx(st, f"import_model(device_name={device_name!r})")
        return make_compiled_model(out, self, device_name)

    def query_model(self, model, device_name, config=None):
        """The device each operation of model (an openvino.Model) would run on: the C API has no query, so
        openvino's Core with this Core's plugins answers (properties set on this Core are not on it)."""
        return self._openvino_core().query_model(model, device_name, {} if config is None else config)

    # --- devices --------------------------------------------------------------------------------------

    def unload_plugin(self, device_name):
        """Lets go of this Core's plugin for device_name: the next use loads it again; compiled models keep
        theirs."""
        if not isinstance(device_name, str):
            raise _exc.InputTypeError(f"unload_plugin: device_name is a str such as 'CPU', got "
                                      f"{type(device_name).__name__}")
        cdef string device = device_name.encode()
        cdef ovf_altstack alt
        ovf_altstack_save(&alt)   # unloading may free a plugin's threads (_altstack.h)
        try:
            ovf_core_unload_plugin(self.ptr, device)
        except RuntimeError as e:
            raise _exc.OVError(f"unload_plugin({device_name!r}): {e}") from None
        finally:
            ovf_altstack_restore(&alt)

    @property
    def available_devices(self):
        cdef ov_available_devices_t devs
        cdef ov_status_e st
        cdef ovf_altstack alt
        with nogil:
            ovf_altstack_save(&alt)
            st = ov_core_get_available_devices(self.ptr, &devs)
            ovf_altstack_restore(&alt)
        check(st, b"available_devices")
        try:
            return [devs.devices[i].decode("utf-8") for i in range(devs.size)]
        finally:
            ov_available_devices_free(&devs)

    def get_versions(self, device_name):
        cdef ov_core_version_list_t vs
        cdef bytes bdevice = device_name.encode()
        cdef ov_status_e st
        cdef ovf_altstack alt
        ovf_altstack_save(&alt)
        st = ov_core_get_versions_by_device_name(self.ptr, bdevice, &vs)
        ovf_altstack_restore(&alt)
        check_ctx(st, f"get_versions({device_name!r})")
        try:
            return {vs.versions[i].device_name.decode(): _records.Version(
                        vs.versions[i].version.buildNumber.decode(), vs.versions[i].version.description.decode())
                    for i in range(vs.size)}
        finally:
            ov_core_versions_free(&vs)

    def get_available_devices(self):
        return self.available_devices

    def get_property(self, device_name, name=None):
        """get_property(device_name, name), or get_property(name) for the Core's own properties."""
        return _sugar.core_get_property(self, device_name, name)

    def _property_text(self, device_name, str key):
        """A property's value as the C API gives it: text."""
        cdef char* value = NULL
        cdef bytes bkey = key.encode()
        cdef bytes bdevice = device_name.encode()
        cdef ov_status_e st
        cdef ovf_altstack alt
        ovf_altstack_save(&alt)
        st = ov_core_get_property(self.ptr, bdevice, bkey, &value)
        ovf_altstack_restore(&alt)
        check_ctx(st, f"get_property({device_name!r}, {key!r})")
        try:
            return value.decode("utf-8")
        finally:
            ov_free(value)

    def set_property(self, device_name, properties=None):
        """set_property(properties) for every device, or set_property(device_name, properties)."""
        if properties is None:
            device_name, properties = "", device_name
        cdef _PropertyList props = _PropertyList(_properties.to_pairs(properties))
        cdef bytes bdevice = device_name.encode()
        cdef ov_status_e st
        cdef ovf_altstack alt
        ovf_altstack_save(&alt)
        st = ov_core_set_properties(self.ptr, bdevice, props.n, props.items)
        ovf_altstack_restore(&alt)
        check_ctx(st, f"set_property({device_name!r})")


cdef CompiledModel compile_c_model(Core core, ov_model_t* m, bytes device, list pairs):
    """Compiles m (which the caller keeps and frees) on core for device."""
    cdef ov_compiled_model_t* out = NULL
    cdef ov_status_e st
    cdef _PropertyList props = _PropertyList(pairs)
    cdef const char* cdevice = device
    cdef ovf_altstack alt
    with nogil:
        ovf_altstack_save(&alt)
        st = ov_core_compile_model_props(core.ptr, m, cdevice, props.n, props.items, &out)
        ovf_altstack_restore(&alt)
    check_ctx(st, _sugar.compile_context(device))
    return make_compiled_model(out, core, device.decode())


cdef CompiledModel make_compiled_model(ov_compiled_model_t* ptr, Core core, str device):
    cdef CompiledModel cm = CompiledModel.__new__(CompiledModel)
    cm.ptr = ptr
    cm.core = core
    cm._read_ports()
    # The CPU plugin keeps a request's output tensors for static shapes in place, so requests may remember
    # them. AUTO can move work to another device later, which swaps tensors: only when CPU is all it has.
    device = device.upper()
    cm.cache_outputs = device == "CPU" or (device == "AUTO" and core.available_devices == ["CPU"])
    return cm


_default_core = None


def compile_model(model, device_name="AUTO", config=None):
    """Compiles a model on a Core ovfast keeps for this purpose (openvino.compile_model's API)."""
    global _default_core
    if _default_core is None:
        _default_core = Core()
    return _sugar.compile_model(_default_core, model, device_name, config, None)

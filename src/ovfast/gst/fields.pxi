# A GstStructure's fields as Python values: what a gstgva Tensor reads and writes (DL Streamer keeps a tensor's
# name, label, confidence, ... as the fields of a GstStructure, and so does ovfast).

import numbers as _numbers


cdef object _value_to_python(const GValue* v):
    """A field's value: str, int, float, bool, a list for arrays, bytes for a byte variant (DL Streamer's
    data_buffer); anything else as GStreamer serializes it."""
    cdef GType t = G_VALUE_TYPE(v)
    cdef const gchar* text
    cdef gchar* serial
    cdef GValueArray* arr
    cdef gsize n = 0
    cdef gconstpointer data
    cdef guint i
    if t == G_TYPE_STRING:
        text = g_value_get_string(v)
        return None if text == NULL else text.decode("utf-8", "replace")
    if t == G_TYPE_INT:
        return g_value_get_int(v)
    if t == G_TYPE_UINT:
        return g_value_get_uint(v)
    if t == G_TYPE_INT64:
        return g_value_get_int64(v)
    if t == G_TYPE_UINT64:
        return g_value_get_uint64(v)
    if t == G_TYPE_DOUBLE:
        return g_value_get_double(v)
    if t == G_TYPE_FLOAT:
        return g_value_get_float(v)
    if t == G_TYPE_BOOLEAN:
        return bool(g_value_get_boolean(v))
    if GST_VALUE_HOLDS_ARRAY(v):
        return [_value_to_python(gst_value_array_get_value(v, i)) for i in range(gst_value_array_get_size(v))]
    if GST_VALUE_HOLDS_LIST(v):
        return [_value_to_python(gst_value_list_get_value(v, i)) for i in range(gst_value_list_get_size(v))]
    if t == G_TYPE_VALUE_ARRAY:
        arr = <GValueArray*>g_value_get_boxed(v)
        return [] if arr == NULL else [_value_to_python(&arr.values[i]) for i in range(arr.n_values)]
    if t == G_TYPE_VARIANT:
        data = g_variant_get_fixed_array(g_value_get_variant(v), &n, 1)
        return (<const char*>data)[:n] if data != NULL else b""
    serial = gst_value_serialize(v)
    if serial == NULL:
        return None
    try:
        return serial.decode("utf-8", "replace")
    finally:
        g_free(serial)


cdef object _field(const GstStructure* s, str key):
    """The field's value, or None if the structure has no such field."""
    cdef bytes k = key.encode()
    cdef const GValue* v = gst_structure_get_value(s, k)
    return None if v == NULL else _value_to_python(v)


cdef list _field_names(const GstStructure* s):
    return [gst_structure_nth_field_name(s, i).decode("utf-8", "replace") for i in range(gst_structure_n_fields(s))]


cdef int _set_field(GstStructure* s, object key, object value) except -1:
    """Sets a field from a str, an int (a G_TYPE_INT, or 64-bit beyond its range), a float or a bool."""
    cdef GValue v
    if not isinstance(key, str) or not key:
        raise TypeError(f"a tensor's field name must be a non-empty str, got {key!r}")
    cdef bytes k = key.encode()
    memset(&v, 0, sizeof(GValue))
    if isinstance(value, bool):
        g_value_init(&v, G_TYPE_BOOLEAN)
        g_value_set_boolean(&v, value)
    elif isinstance(value, _numbers.Integral):
        if -2 ** 31 <= value < 2 ** 31:
            g_value_init(&v, G_TYPE_INT)
            g_value_set_int(&v, int(value))
        elif -2 ** 63 <= value < 2 ** 63:
            g_value_init(&v, G_TYPE_INT64)
            g_value_set_int64(&v, int(value))
        else:
            raise OverflowError(f"tensor field {key!r}: {value} does not fit in 64 bits")
    elif isinstance(value, _numbers.Real):
        g_value_init(&v, G_TYPE_DOUBLE)
        g_value_set_double(&v, float(value))
    elif isinstance(value, str):
        g_value_init(&v, G_TYPE_STRING)
        g_value_set_string(&v, value.encode())
    elif isinstance(value, (list, tuple)):
        raise NotImplementedError(f"tensor field {key!r}: lists are not supported as field values (as in gstgva); "
                                  f"store a str (e.g. json.dumps) or one number per field")
    else:
        raise TypeError(f"tensor field {key!r}: expected a str, int, float or bool, got {type(value).__name__}")
    gst_structure_set_value(s, k, &v)
    g_value_unset(&v)
    return 0


cdef bytes _structure_name(object name):
    """A name GStreamer accepts for a structure (what Tensor.set_name and add_tensor take): a letter, then letters,
    digits and any of / - _ . : +. Raises TypeError or ValueError naming the rule."""
    if not isinstance(name, str):
        raise TypeError(f"a tensor's name must be a str, got {type(name).__name__}")
    if not name or not ("a" <= name[0].lower() <= "z") or any(
            not (c.isascii() and (c.isalnum() or c in "/-_.:+")) for c in name):
        raise ValueError(f"{name!r} is not a valid tensor name: it must start with a letter and hold only letters, "
                         f"digits and / - _ . : +")
    return name.encode()

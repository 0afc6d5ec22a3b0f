"""The model behind ovfastinfer: opened once (NULL -> READY) and compiled for each set of caps with the frame's
format, size and row stride in its preprocessing, so OpenVINO reads frames where GStreamer put them.

This is the only Python the element runs, and never per frame."""

import os
import re

import numpy as np
import openvino
import openvino.opset13 as ops
from openvino.preprocess import ColorFormat, PrePostProcessor, ResizeAlgorithm

import ovfast

OUTPUTS = ("tensor", "detection", "classification")
# region's values, and DL Streamer's for the same (its inference-region): either name takes either
REGION_NAMES = {"frame": "frame", "roi": "roi", "full-frame": "frame", "roi-list": "roi"}

# GStreamer's formats -> (OpenVINO's colour format, channels of the frame's tensor, planes read as one)
_FORMATS = {
    "BGR": (ColorFormat.BGR, 3),
    "RGB": (ColorFormat.RGB, 3),
    "BGRx": (ColorFormat.BGRX, 4),
    "RGBx": (ColorFormat.RGBX, 4),
    "GRAY8": (ColorFormat.GRAY, 1),
    "NV12": (ColorFormat.NV12_SINGLE_PLANE, 1),
    "I420": (ColorFormat.I420_SINGLE_PLANE, 1),
}


class SettingsError(ValueError):
    """A property value ovfastinfer cannot use."""


class CapsError(ValueError):
    """Frames of the negotiated caps that the model cannot take."""


def parse_config(text):
    """'KEY=VALUE[,KEY=VALUE...]' -> dict (OpenVINO checks keys and values when compiling). DL Streamer's
    ie-config has the same format."""
    config = {}
    for item in (text or "").replace(";", ",").split(","):
        item = item.strip()
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise SettingsError(f"config: expected KEY=VALUE items separated by commas "
                                f"(e.g. PERFORMANCE_HINT=THROUGHPUT), got '{item}'")
        config[key.strip()] = value.strip()
    return config


def _model_layout(model):
    """The model input's layout: the one set on it, else NCHW or NHWC guessed from where 1 or 3 channels sit."""
    port = model.input()
    shape = port.get_partial_shape()
    name = port.get_any_name() if port.get_names() else "0"
    if shape.rank.is_dynamic or shape.rank.get_length() != 4:
        raise CapsError(f"the model's input '{name}' has shape {shape}; ovfastinfer feeds images to a 4-d input "
                        f"(NCHW or NHWC)")
    layout = openvino.layout_helpers.get_layout(port)
    if not layout.empty:
        return str(layout).strip("[]").replace(",", ""), shape
    c1, c3 = shape[1], shape[3]
    if c1.is_static and c1.get_length() in (1, 3):
        return "NCHW", shape
    if c3.is_static and c3.get_length() in (1, 3):
        return "NHWC", shape
    raise CapsError(f"the model's input '{name}' has shape {shape}: neither dimension 1 nor 3 looks like channels; "
                    f"set a layout on the model's input")


def frame_model(model, fmt, width, height, strides=None, offsets=None, dynamic=False, element_type=openvino.Type.u8,
                model_color=ColorFormat.BGR, normalize=None):
    """The model with preprocessing for frames of GStreamer format `fmt`, width x height, whose planes are
    `strides` bytes per row at `offsets` (GstVideoInfo's): colour conversion, resize, layout and type
    conversion inside OpenVINO. Returns (model, input bytes read from plane 0's start). element_type: the
    input's (u8 for frames; region_model feeds f32 samples). model_color: the model's colour order; normalize:
    a function that adds steps to the preprocessing after the resize (model-proc's range, mean and std)."""
    if isinstance(model, (str, os.PathLike)):
        model = openvino.Core().read_model(os.fspath(model))
    else:
        model = model.clone()
    if len(model.inputs) != 1:
        names = [p.get_any_name() if p.get_names() else str(i) for i, p in enumerate(model.inputs)]
        raise CapsError(f"the model has {len(model.inputs)} inputs {names}; ovfastinfer feeds one image input")
    if fmt not in _FORMATS:
        raise CapsError(f"frames in {fmt} are not supported; use videoconvert to one of {sorted(_FORMATS)}")
    color, frame_channels = _FORMATS[fmt]
    layout, shape = _model_layout(model)
    name = model.input().get_any_name() if model.input().get_names() else "0"
    channels = shape[layout.index("C")]
    want = channels.get_length() if channels.is_static else None
    gray_model = want == 1
    if want not in (1, 3):
        raise CapsError(f"the model's input '{name}' takes {channels} channels (layout {layout}, shape {shape}); "
                        f"ovfastinfer feeds 1 (GRAY8) or 3 (colour) channels")
    to_gray = model_color == ColorFormat.GRAY        # model-proc's color_space GRAYSCALE
    if to_gray and not gray_model:
        raise CapsError(f"color_space GRAYSCALE feeds one channel, but the model's input '{name}' takes {channels} "
                        f"(layout {layout}, shape {shape})")
    if gray_model != (fmt == "GRAY8") and not to_gray:
        raise CapsError(f"the model's input '{name}' takes {want} channel{'s' if want > 1 else ''} (shape {shape}), "
                        f"but the frames are {fmt}: put videoconvert ! video/x-raw,format="
                        f"{'GRAY8' if gray_model else 'BGR'} before ovfastinfer")
    planar = fmt in ("NV12", "I420")
    if planar and (width % 2 or height % 2):
        raise CapsError(f"{fmt} frames of {width}x{height}: the model reads NV12/I420 of even width and height")

    ppp = PrePostProcessor(model)
    tensor = ppp.input().tensor()
    tensor.set_element_type(element_type).set_color_format(color).set_layout(openvino.Layout("NHWC"))
    if dynamic:       # frames (regions) of any size: region_model feeds crops
        tensor.set_spatial_dynamic_shape()
    else:
        tensor.set_spatial_static_shape(height, width)
    ppp.input().model().set_layout(openvino.Layout(layout))
    pre = ppp.input().preprocess()
    if model.input().get_element_type() != element_type:
        pre.convert_element_type(model.input().get_element_type())
    if to_gray and fmt != "GRAY8":
        if frame_channels == 4:            # OpenVINO converts BGRx to grey through BGR only
            pre.convert_color(ColorFormat.BGR)
        pre.convert_color(ColorFormat.GRAY)
    elif not gray_model and fmt != model_color.name:
        pre.convert_color(model_color)     # OpenVINO's models take BGR unless they say otherwise (model-proc)
    mh, mw = shape[layout.index("H")], shape[layout.index("W")]
    if (dynamic and mh.is_static and mw.is_static) or (not dynamic and (
            (mh.is_static and mh.get_length() != height) or (mw.is_static and mw.get_length() != width))):
        pre.resize(ResizeAlgorithm.RESIZE_LINEAR)
    if normalize is not None:
        normalize(pre)
    model = ppp.build()
    if dynamic:
        return model, None

    # What the built model reads, as rows of bytes: packed frames [1, H, W, C]; one-plane NV12/I420 [1, H*3/2, W, 1]
    rows = height * 3 // 2 if planar else height
    row_bytes = width * frame_channels
    strides = tuple(strides or ())
    offsets = tuple(offsets or ())
    stride = strides[0] if strides else row_bytes
    if planar:
        if fmt == "NV12":
            same = len(strides) == 2 and strides[1] == stride and offsets[1] - offsets[0] == stride * height
        else:
            same = (len(strides) == 3 and stride == width and strides[1] * 2 == width and strides[2] * 2 == width
                    and offsets[1] - offsets[0] == width * height and offsets[2] - offsets[1] == width * height // 4)
        if strides and not same:
            raise CapsError(f"{fmt} frames of {width}x{height} have planes with strides {list(strides)} at offsets "
                            f"{list(offsets)}: the model reads the planes as one image, so rows must not be padded "
                            f"(use a width that is a multiple of 4, or convert to BGR with videoconvert)")
    if stride != row_bytes:
        model = _strided_input(model, rows, stride, row_bytes, width, frame_channels)
    return model, rows * stride


def _strided_input(model, rows, stride, row_bytes, width, channels):
    """Puts a u8 [1, rows, stride] input in front that drops each row's padding, so the model reads frames
    with padded rows (e.g. RGB of width 30: 90 bytes in a 92-byte row) where they lie."""
    old = model.get_parameters()[0]
    padded = ops.parameter([1, rows, stride], openvino.Type.u8, name=old.get_friendly_name())
    cut = ops.slice(padded, np.array([0], np.int64), np.array([row_bytes], np.int64), np.array([1], np.int64),
                    np.array([2], np.int64))
    # -1: any batch, so a DynamicBatcher (batch-size) can run frames together
    image = ops.reshape(cut, np.array([-1, rows, width, channels], np.int64), special_zero=False)
    for target in list(old.output(0).get_target_inputs()):
        target.replace_source_output(image.output(0))
    padded.output(0).set_names(old.output(0).get_names())
    return openvino.Model(model.get_results(), model.get_sinks(), [padded], model.get_variables(),
                          model.get_friendly_name())


def region_model(model, fmt, width, height, strides, crop=None):
    """The model with preprocessing that crops a region of a frame inside OpenVINO: inputs `frame`
    (u8 [1, height, stride], the whole frame where it lies) and `roi` (i64 [4]: x, y, width, height in
    pixels); the crop goes through the same preprocessing as a frame of its size (colour, linear resize,
    layout, type). crop: "sampled" or "sliced" (see crop_plan; None: the plan's first)."""
    if fmt not in ("BGR", "RGB", "BGRx", "RGBx", "GRAY8"):
        raise CapsError(f"region=roi reads regions of packed frames (BGR, RGB, BGRx, RGBx, GRAY8), not {fmt}: "
                        f"put videoconvert ! video/x-raw,format=BGR before ovfastinfer")
    _, channels = _FORMATS[fmt]
    model = model.clone() if not isinstance(model, (str, os.PathLike)) else openvino.Core().read_model(os.fspath(model))
    crop = crop or crop_plan(model)[0][0]
    stride = strides[0] if strides else width * channels
    frame = ops.parameter([1, height, stride], openvino.Type.u8, name="frame")
    roi = ops.parameter([4], openvino.Type.i64, name="roi")
    if crop == "sampled":
        mh, mw = _fixed_size(model)
        if mh is None:
            raise ValueError("a sampled crop needs a model whose input height and width are fixed")
        cropped = _sampled_crop(model, fmt, frame, roi, stride, channels, mh, mw)
    elif crop == "sliced":
        cropped = _sliced_crop(model, fmt, frame, roi, width, height, channels)
    else:
        raise ValueError(f"crop={crop!r} is not 'sampled' or 'sliced'")
    frame.output(0).set_names({"frame"})
    roi.output(0).set_names({"roi"})
    cropped.validate_nodes_and_infer_types()
    return cropped


def _fixed_size(model):
    """The model input's (height, width), or (None, None) if either is not fixed."""
    layout, shape = _model_layout(model)
    mh, mw = shape[layout.index("H")], shape[layout.index("W")]
    return (mh.get_length(), mw.get_length()) if mh.is_static and mw.is_static else (None, None)


def crop_plan(model):
    """The crops region=roi compiles for this model, each with the region size (pixels) from which a region
    runs through it rather than the one before: [("sampled", 0)] for models of up to SAMPLED_ONLY_PIXELS,
    [("sliced", 0), ("sampled", SAMPLED_FROM * model pixels)] up to BOTH_CROPS_PIXELS, else [("sliced", 0)]."""
    mh, mw = _fixed_size(model)
    if mh is None:
        return [("sliced", 0)]
    if mh * mw <= SAMPLED_ONLY_PIXELS:
        return [("sampled", 0)]
    if mh * mw <= BOTH_CROPS_PIXELS:
        return [("sliced", 0), ("sampled", SAMPLED_FROM * mh * mw)]
    return [("sliced", 0)]


# The sampled crop costs per model pixel whatever the region, the sliced crop per region pixel plus less per
# model pixel: the sampled crop alone for small models, both for mid-sized ones (a region taking the sampled
# crop from SAMPLED_FROM times the model's pixels, where the two break even), the sliced alone for large ones
# (a second compilation's weights cost memory for little gain there).
SAMPLED_ONLY_PIXELS = 32 * 32
BOTH_CROPS_PIXELS = 128 * 128
SAMPLED_FROM = 6


def _sampled_crop(model, fmt, frame, roi, stride, channels, mh, mw):
    """The crop resized to the model's mh x mw by reading, for each output pixel, the four frame pixels a
    linear resize of the crop alone would blend (half-pixel centres, clamped to the crop's edge pixels), so
    every shape in the model is known when it is compiled (a crop of run-time size makes the CPU plugin
    infer shapes on every run). The reads are one Gather of mh x mw x channels bytes from the frame where it
    lies: nothing the size of the frame is converted or copied, whatever its size."""
    f32, i32 = openvino.Type.f32, openvino.Type.i32
    resized, _ = frame_model(model, fmt, mw, mh, None, None, element_type=f32)
    # Rows a whole number of pixels long: gather pixels (channels bytes each) by pixel index. Otherwise
    # gather bytes, one index per channel: an index 'channels' times larger, and a broadcast add to build
    # it on every run.
    by_pixel = stride % channels == 0
    if by_pixel:
        pixels = ops.reshape(frame, np.array([-1, channels], np.int64), special_zero=False)
        row_step, column_step, last = stride // channels, 1, []
    else:
        pixels = ops.reshape(frame, np.array([-1], np.int64), special_zero=False)
        row_step, column_step, last = stride, channels, [1]
    box = ops.convert(roi, f32)
    x, y, w, h = (ops.slice(box, np.array([i], np.int64), np.array([i + 1], np.int64), np.array([1], np.int64))
                  for i in range(4))

    def axis(start, size, n, step, shape):
        """For n samples over [start, start + size): the offsets of the two neighbours each blends
        ([2, n]: low, high) and their weights ([2, n]: 1 - t, t), reshaped to `shape` (offsets) and
        `shape` + [1] (weights, over the channels) for broadcasting."""
        # Coordinates inside the crop, as OpenVINO's linear resize computes them ((i + 0.5) / scale - 0.5,
        # scale = n / size): t is then the same float, wherever the crop lies; in frame coordinates a crop
        # at x ~ 2000 would lose t's last bits, up to 0.03 of 255 in a pixel.
        centres = np.arange(n, dtype=np.float32) + np.float32(0.5)
        end = ops.subtract(size, np.float32(1))
        at = ops.subtract(ops.divide(centres, ops.divide(np.float32(n), size)), np.float32(0.5))
        at = ops.minimum(ops.maximum(at, np.float32(0)), end)
        low = ops.floor(at)
        high = ops.minimum(ops.add(low, np.float32(1)), end)
        t = ops.subtract(at, low)
        offsets = ops.multiply(ops.convert(ops.add(ops.concat([low, high], 0), start), i32), np.int32(step))
        weights = ops.concat([ops.subtract(np.float32(1), t), t], 0)
        return (ops.reshape(offsets, np.array(shape + last, np.int64), special_zero=False),
                ops.reshape(weights, np.array(shape + [1], np.int64), special_zero=False))

    # the four neighbours of every output pixel in one Gather: [row low/high, column low/high, mh, mw, channel]
    rows, row_weights = axis(y, h, mh, row_step, [2, 1, mh, 1])
    columns, column_weights = axis(x, w, mw, column_step, [1, 2, 1, mw])
    index = ops.add(rows, columns)
    if not by_pixel:
        index = ops.add(index, np.arange(channels, dtype=np.int32).reshape(1, 1, 1, 1, channels))
    neighbours = ops.convert(ops.gather(pixels, index, np.int64(0)), f32)
    sampled = ops.reduce_sum(ops.multiply(ops.multiply(neighbours, row_weights), column_weights),
                             np.array([0, 1], np.int64), keep_dims=False)
    if model.input().get_element_type().is_integral_number():      # a resize in an integer type rounds
        sampled = ops.round(sampled, "half_to_even")
    sampled = ops.reshape(sampled, np.array([1, mh, mw, channels], np.int64), special_zero=False)
    old = resized.get_parameters()[0]
    for target in list(old.output(0).get_target_inputs()):
        target.replace_source_output(sampled.output(0))
    return openvino.Model(resized.get_results(), resized.get_sinks(), [frame, roi], resized.get_variables(),
                          resized.get_friendly_name())


def _sliced_crop(model, fmt, frame, roi, width, height, channels):
    """The crop sliced out at its own size and fed through the dynamic-size preprocessing (shapes are
    inferred on every run): for a model whose input size is not fixed, or not small (crop_plan)."""
    crop_model, _ = frame_model(model, fmt, width, height, None, None, dynamic=True)
    old = crop_model.get_parameters()[0]
    x, y, w, h = (ops.slice(roi, np.array([i], np.int64), np.array([i + 1], np.int64), np.array([1], np.int64))
                  for i in range(4))
    c = np.array([channels], np.int64)
    zero, one = np.array([0], np.int64), np.array([1], np.int64)
    begin = ops.concat([zero, y, ops.multiply(x, c)], 0)
    end = ops.concat([one, ops.add(y, h), ops.multiply(ops.add(x, w), c)], 0)
    cut = ops.strided_slice(frame, begin, end, np.array([1, 1, 1], np.int64), [], [])
    image = ops.reshape(cut, ops.concat([one, h, w, c], 0), special_zero=False)
    for target in list(old.output(0).get_target_inputs()):
        target.replace_source_output(image.output(0))
    cropped = openvino.Model(crop_model.get_results(), crop_model.get_sinks(), [frame, roi],
                             crop_model.get_variables(), crop_model.get_friendly_name())
    cropped.validate_nodes_and_infer_types()
    # Shapes computed from the roi input's values lose what is static (a batch of 1 becomes ?): the model's
    # own outputs had static shapes, so say them again.
    for result, original in zip(cropped.get_results(), model.outputs):
        if result.get_output_partial_shape(0).is_dynamic and original.get_partial_shape().is_static:
            source = result.input_value(0)
            names = source.get_names()
            fixed = ops.reshape(source, np.array(list(original.get_shape()), np.int64), special_zero=False)
            result.input(0).replace_source_output(fixed.output(0))
            fixed.output(0).set_names(names)
    return cropped


MODES = {"tensor": 0, "detection": 1, "classification": 2}
MODE_MODEL_PROC = 3      # decode.pxi's: a model-proc file's converters


def _names_a_file(text):
    """True if labels= (or labels-file=) is meant as a file: a path, or one name with an extension."""
    return os.sep in text or ("," not in text and re.search(r"\.[A-Za-z0-9]+$", text) is not None)


def parse_labels(text):
    """labels= (labels-file=, its DL Streamer name): a file with one label per line, or labels separated by
    commas ('' for none)."""
    if not text:
        return []
    if _names_a_file(text) and not os.path.isfile(text):
        why = "not a file" if os.path.exists(text) else "no such file"
        raise SettingsError(f"labels={text!r} (labels-file) could not be read: {why} "
                            f"(give a file with one label per line, or labels separated by commas)")
    if os.path.isfile(text):
        with open(text, encoding="utf-8") as f:
            return [line.strip() for line in f if line.strip()]
    return [item.strip() for item in text.split(",")]


def parse_object_class(text):
    """roi-label= (object-class=, its DL Streamer name): the labels of the regions to run on, separated by
    commas ([] for all)."""
    return [item.strip() for item in (text or "").split(",") if item.strip()]


class Session:
    """A model compiled for one set of caps, its job queue and what the element needs to know of it. With
    region=roi a second compilation (big, another crop of the same model) may take the regions of at least
    big_from pixels, through big_queue. With batch-size above 1 a DynamicBatcher (batcher, its C entry in
    batch_api) runs the frames instead of a queue. Elements sharing a model-instance-id share one Session
    (_instances.py); release() is each holder's last word."""

    def __init__(self, compiled, jobs, input_nbytes, output="tensor", region="frame", labels=(), big=None,
                 big_from=0, object_classes=(), model_name="", batcher=None, model_proc=None, content=None):
        global sessions_compiled
        sessions_compiled += 1
        self.batcher = batcher
        self.batch_api = batcher._c_api() if batcher is not None else None
        self.compiled = compiled
        self.queue = ovfast.AsyncInferQueue(compiled, jobs) if batcher is None else None
        self.big_queue = ovfast.AsyncInferQueue(big, jobs) if big is not None else None
        self.jobs = batcher.jobs if batcher is not None else jobs
        self.batch_size = batcher.max_batch_size if batcher is not None else 1
        self.owner = None       # the Instance sharing it (_instances.py), or None: the element's own
        self.big_from = big_from
        self.input_nbytes = input_nbytes
        self.mode = MODES[output]
        self.per_region = region == "roi"
        self.labels = [label.encode() for label in labels]
        self.object_classes = [label.encode() for label in object_classes]     # the regions to run on ([]: all)
        self.model_name = model_name.encode()
        outputs = []
        for i, port in enumerate(compiled.outputs):
            pshape = port.get_partial_shape()
            if pshape.is_dynamic:
                raise CapsError(f"output {i} of the model has a dynamic shape {pshape}: ovfastinfer attaches "
                                f"outputs of static shape")
            if len(pshape) > 8:
                raise CapsError(f"output {i} of the model has {len(pshape)} dimensions; at most 8 are supported")
            dims = tuple(int(d) for d in port.get_shape())
            etype = port.get_element_type()
            if etype == openvino.Type.string:
                raise CapsError(f"output {i} of the model is a string tensor; ovfastinfer attaches numeric outputs")
            nbytes = int(np.prod(dims, dtype=np.int64)) * etype.bitwidth // 8
            name = port.get_any_name() if port.get_names() else f"output{i}"
            outputs.append((name.encode(), etype.get_type_name().encode(), dims, nbytes))
        self.outputs = outputs
        first = compiled.outputs[0]
        dims = outputs[0][2]
        self.converters, self.content = [], (1, 1, 1, 1)
        if model_proc is not None:      # its converters take the place of output=
            self.mode = MODE_MODEL_PROC
            self.content = tuple(float(v) for v in content)
            self.converters = model_proc.plan(outputs, self.content)
            return
        if self.mode == MODES["detection"]:
            if len(dims) != 4 or dims[:2] != (1, 1) or dims[3] != 7 or first.get_element_type() != openvino.Type.f32:
                raise CapsError(f"output=detection reads SSD-style boxes, an f32 output of shape [1,1,N,7] (image_id, "
                                f"label, confidence, x_min, y_min, x_max, y_max); the model's first output "
                                f"'{outputs[0][0].decode()}' is {first.get_element_type().get_type_name()}"
                                f"{list(dims)}")
        if self.mode == MODES["classification"]:
            classes = [d for d in dims if d != 1]
            if len(classes) != 1 or first.get_element_type() != openvino.Type.f32:
                raise CapsError(f"output=classification reads class scores, an f32 output like [1,C] or [1,C,1,1]; "
                                f"the model's first output '{outputs[0][0].decode()}' is "
                                f"{first.get_element_type().get_type_name()}{list(dims)}")

    def release(self):
        """An element lets go of the session (it runs nothing on it any more): a shared one is closed with
        its last holder, the element's own at once."""
        if self.owner is not None:
            self.owner.release(self)
        else:
            self.close()

    def close(self):
        """Closes the batcher (nothing is queued on it: its elements drained their frames first)."""
        if self.batcher is not None:
            self.batcher.close()


# Sessions compiled in this process (one per element and caps; one per instance and caps when elements share
# a model-instance-id): the tests count compilations with it.
sessions_compiled = 0


# Keys of OpenVINO 1 that DL Streamer's ie-config still takes and renames for OpenVINO 2: (key, the device
# family it applies to, OpenVINO 2's key, how the value changes or None). OpenVINO 2 refuses the old names.
_LEGACY_KEYS = [("CPU_THROUGHPUT_STREAMS", "CPU", "NUM_STREAMS", None),
                ("CPU_THREADS_NUM", "CPU", "INFERENCE_NUM_THREADS", None),
                ("CPU_BIND_THREAD", "CPU", "ENABLE_CPU_PINNING", lambda value: "YES" if value == "YES" else "NO"),
                ("GPU_THROUGHPUT_STREAMS", "GPU", "NUM_STREAMS", None)]


def modern_config(config, device):
    """config with DL Streamer's OpenVINO 1 keys (ie-config=CPU_THROUGHPUT_STREAMS=4) renamed as DL Streamer
    renames them for the device; a key given under both names keeps the new name's value."""
    family = device.split(":")[0].split(".")[0]
    out = dict(config)
    for old, applies, new, convert in _LEGACY_KEYS:
        if old in out and family == applies:
            value = out.pop(old)
            out.setdefault(new, convert(value) if convert else value)
    return out


def streaming_config(core, device, config, jobs):
    """The element keeps `jobs` inferences in flight all the time: unless the config says how to run them
    (a PERFORMANCE_HINT, or NUM_STREAMS), ask for THROUGHPUT sized to the jobs. OpenVINO's default,
    LATENCY, makes one stream, so jobs would run one at a time."""
    if "PERFORMANCE_HINT" in config or "NUM_STREAMS" in config:
        return config
    try:
        supported = core.get_property(device.split(":")[0], "SUPPORTED_PROPERTIES")
    except Exception:       # a device that cannot say (the compile names any real problem)
        return config
    if "PERFORMANCE_HINT" not in supported:
        return config
    out = dict(config, PERFORMANCE_HINT="THROUGHPUT")
    if jobs and "PERFORMANCE_HINT_NUM_REQUESTS" in supported:
        out.setdefault("PERFORMANCE_HINT_NUM_REQUESTS", str(jobs))
    return out


class Loaded:
    """The model read from its file, with the element's settings; compiled per caps by session(). batch_size
    (DL Streamer's batch-size; 0 as 1, the model's own batch) above 1 runs frames in batches of up to that many
    through a DynamicBatcher; batch_timeout (ms): how long a batch that is not full waits for more frames
    (0: it starts as soon as a job is free, with the frames waiting then)."""

    def __init__(self, path, device, config, jobs, output, interval, region="frame", labels="", object_class="",
                 batch_size=0, batch_timeout=0, model_proc=""):
        if output not in OUTPUTS:
            raise SettingsError(f"output={output!r} is not one of {', '.join(OUTPUTS)}")
        if region not in REGION_NAMES:
            raise SettingsError(f"region={region!r} is not one of {', '.join(REGION_NAMES)} (the property region, "
                                f"or inference-region as DL Streamer names it)")
        self.output, self.region = output, REGION_NAMES[region]
        self.batch_size, self.batch_timeout = max(batch_size, 1), batch_timeout
        if self.batch_size > 1 and self.region == "roi":
            raise SettingsError(f"batch-size={batch_size} runs whole frames in batches, but region={region} "
                                f"(inference-region) runs each region of interest on its own: set batch-size=1 "
                                f"(or 0), or region=frame (inference-region=full-frame)")
        self.object_classes = parse_object_class(object_class)
        if self.object_classes and self.region != "roi":
            raise SettingsError(f"roi-label={object_class!r} (object-class) picks the regions to run on, but the "
                                f"element runs on whole frames: set region=roi (inference-region=roi-list), or "
                                f"leave roi-label empty")
        try:
            self.labels = parse_labels(labels)
        except OSError as exc:
            raise SettingsError(f"labels={labels!r} (labels-file) could not be read: {exc}") from exc
        self.device = device or "CPU"
        self.config = modern_config(parse_config(config), self.device)
        self.jobs = jobs
        self.core = ovfast.Core()
        if self.device not in ("AUTO",) and self.device.split(":")[0].split(".")[0] not in (
                "AUTO", "MULTI", "HETERO", "BATCH") and self.device not in self.core.available_devices:
            raise SettingsError(f"device={self.device!r} is not available; this machine has "
                                f"{', '.join(self.core.available_devices)}")
        if not os.path.exists(path):
            raise FileNotFoundError(f"model={path!r}: no such file (give the path of an IR .xml or ONNX file)")
        if not os.access(path, os.R_OK) or os.path.isdir(path):
            raise PermissionError(f"model={path!r} cannot be read as a file")
        try:
            self.model = self.core.read_model(path)
        except Exception as exc:
            raise OSError(f"model={path!r} could not be read as a model: {exc}") from exc
        self.config = streaming_config(self.core, self.device, self.config, jobs)
        self.model_proc = None
        if model_proc:
            from ovfast.gst._model_proc import ModelProc
            self.model_proc = ModelProc(model_proc, self.labels)
            if self.model_proc.preproc is not None and self.region == "roi":
                raise SettingsError(f"model-proc={model_proc!r}: input_preproc is done on whole frames; with "
                                    f"region=roi (inference-region=roi-list) leave input_preproc empty")

    def session(self, fmt, width, height, strides, offsets, size):
        proc = {}
        if self.region != "roi":
            if self.model_proc is not None:
                model, nbytes, content = self.model_proc.frame_model(self.model, fmt, width, height, strides, offsets)
                proc = {"model_proc": self.model_proc, "content": content}
            else:
                model, nbytes = frame_model(self.model, fmt, width, height, strides, offsets)
            if self.batch_size > 1:
                batcher = self._batcher(model)
                return Session(batcher.compiled, self.jobs, nbytes, self.output, self.region, self.labels,
                               model_name=self.model.get_friendly_name(), batcher=batcher, **proc)
            return Session(self._compile(model), self.jobs, nbytes, self.output, self.region, self.labels,
                           model_name=self.model.get_friendly_name(), **proc)
        if self.model_proc is not None:
            mh, mw = _fixed_size(self.model)
            proc = {"model_proc": self.model_proc, "content": (mw or 1, mh or 1, mw or 1, mh or 1)}
        plan = crop_plan(self.model)
        compiled = [self._compile(region_model(self.model, fmt, width, height, strides, crop)) for crop, _ in plan]
        big, big_from = (compiled[1], plan[1][1]) if len(plan) > 1 else (None, 0)
        return Session(compiled[0], self.jobs, height * strides[0], self.output, self.region, self.labels,
                       big, big_from, self.object_classes, self.model.get_friendly_name(), **proc)

    def _batcher(self, model):
        try:
            batcher = ovfast.DynamicBatcher(model, self.device, self.config, max_batch_size=self.batch_size,
                                            max_delay_us=self.batch_timeout * 1000, jobs=self.jobs)
        except (ValueError, RuntimeError) as exc:
            raise SettingsError(f"batch-size={self.batch_size}: the model cannot run frames in batches "
                                f"(set batch-size=1): {exc}") from exc
        if self.batch_timeout:
            batcher._fill_batches()
        return batcher

    def release(self):
        """The element closes (READY -> NULL)."""

    def _compile(self, model):
        try:
            return self.core.compile_model(model, self.device, self.config)
        except Exception as exc:
            raise SettingsError(f"the model could not be compiled for {self.device} with config "
                                f"{self.config}: {exc}") from exc


def load(path, device, config, jobs, output, interval, region="frame", labels="", object_class="", batch_size=0,
         batch_timeout=0, instance="", model_proc=""):
    """The element's model (NULL -> READY); with a model-instance-id, its membership of the shared instance."""
    settings = (path, device, config, jobs, output, interval, region, labels, object_class, batch_size,
                batch_timeout, model_proc)
    if instance:
        from ovfast.gst import _instances
        return _instances.join(instance, settings, lambda: Loaded(*settings))
    return Loaded(*settings)


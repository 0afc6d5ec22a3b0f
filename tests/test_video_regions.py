"""ovfastinfer on regions: output=detection, region=roi with output=classification, VideoFrame.regions() and
add_region(). Boxes come from a detection model written here whose boxes are known; the classifier's
results on each region are checked against the model run from Python on the same crop from numpy."""

import functools
import gc

import numpy as np
import openvino
import openvino.opset13 as ops
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from gi.repository import Gst, GstVideo

import ovfast
import ovfast.gst
from ovfast.gst import VideoFrame
from ovfast.gst import _model
from ovfast.gst._model import BOTH_CROPS_PIXELS, SAMPLED_FROM, SAMPLED_ONLY_PIXELS, crop_plan, region_model
from test_video import (F32, F32_CONFIG, appsrc_frames, assert_null_cycles_free_everything, bus_error, bus_error_of,
                        pipeline, run_appsrc, save)

LABELS = "face,car,dog"
# (label id, x_min, y_min, x_max, y_max) of the three boxes; box i's confidence is channel i's mean / 255
BOXES = [(0, 0.1, 0.2, 0.5, 0.7), (1, 0.0, 0.0, 1.0, 1.0), (2, 0.55, 0.1, 0.95, 0.45)]


def detector(h, w, sample=1):
    """u8 NHWC [1,h,w,3] -> [1,1,4,7]: the three BOXES, confidences from the frame's channel means (over every
    sample-th row and column), and a last row with image_id -1 (the end of the list)."""
    x = ops.parameter([1, h, w, 3], openvino.Type.u8, name="image")
    pixels = x if sample == 1 else ops.strided_slice(x, np.zeros(4, np.int64), np.array([1, h, w, 3], np.int64),
                                                     np.array([1, sample, sample, 1], np.int64), [], [])
    means = ops.divide(ops.reduce_mean(ops.convert(pixels, openvino.Type.f32), np.array([1, 2], np.int64), False),
                       np.float32(255))
    conf = ops.reshape(means, np.array([3, 1], np.int64), False)
    ids = ops.constant(np.zeros((3, 1), np.float32))
    labels = ops.constant(np.array([[b[0]] for b in BOXES], np.float32))
    coords = ops.constant(np.array([b[1:] for b in BOXES], np.float32))
    rows = ops.concat([ids, labels, conf, coords], 1)
    end = ops.constant(np.array([[-1, 0, 0, 0, 0, 0, 0]], np.float32))
    out = ops.reshape(ops.concat([rows, end], 0), np.array([1, 1, 4, 7], np.int64), False)
    model = openvino.Model([out], [x], "detector")
    model.outputs[0].tensor.set_names({"boxes"})
    return model


def classifier(size=16):
    """u8 NHWC [1,size,size,3] -> f32 [1,5] scores (a conv net; resized crops go in)."""
    rng = np.random.default_rng(5)
    x = ops.parameter([1, size, size, 3], openvino.Type.u8, name="image")
    y = ops.transpose(ops.convert(x, openvino.Type.f32), np.array([0, 3, 1, 2], np.int64))
    k = ops.constant(rng.standard_normal((5, 3, 3, 3)).astype(np.float32) / 30)
    y = ops.reduce_mean(ops.relu(ops.convolution(y, k, [1, 1], [1, 1], [1, 1], [1, 1])), np.array([2, 3], np.int64),
                        False)
    model = openvino.Model([ops.softmax(y, 1)], [x], "classifier")
    model.outputs[0].tensor.set_names({"scores"})
    return model


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("regions")
    return save(detector(48, 64), folder, "det"), save(classifier(), folder, "cls")


def frame_with_means(b, g, r, h=48, w=64, seed=0):
    """A BGR frame whose channel means are b, g, r (noise that cancels out)."""
    rng = np.random.default_rng(seed)
    noise = rng.integers(-20, 21, (h, w // 2, 3))
    noise = np.concatenate([noise, -noise], axis=1)
    return np.clip(np.array([b, g, r])[None, None] + noise, 0, 255).astype(np.uint8)


def expected_regions(frame, threshold, w=64, h=48):
    means = frame.reshape(-1, 3).mean(0) / 255
    out = []
    for i, (label_id, x0, y0, x1, y1) in enumerate(BOXES):
        if means[i] >= threshold:
            px, py = int(x0 * w + 0.5), int(y0 * h + 0.5)
            out.append((LABELS.split(",")[label_id], (px, py, int(x1 * w + 0.5) - px, int(y1 * h + 0.5) - py),
                        label_id, means[i]))
    return out


def test_detection_regions_box_by_box(models):
    det, _ = models
    frames = [frame_with_means(200, 50, 100, seed=1), frame_with_means(40, 220, 180, seed=2),
              frame_with_means(10, 10, 10, seed=3)]
    got = []
    for f in appsrc_frames(f"ovfastinfer model={det} output=detection labels={LABELS} threshold=0.3", frames, "BGR",
                           64, 48):
        got.append([(r.label(), r.rect(), r.label_id(), r.confidence(), r.parent_id(), r.region_id(),
                     [t.name() for t in r.tensors()]) for r in f.regions()])
        assert len(f.tensors()) == 1 and f.tensors()[0].dims() == [1, 1, 4, 7]   # the raw boxes too
    assert len(got) == 3
    for regions, frame in zip(got, frames):
        want = expected_regions(frame, 0.3)
        assert [(label, rect, lid) for label, rect, lid, *_ in regions] == [(a, b, c) for a, b, c, _ in want]
        for (_, _, _, conf, parent, rid, names), (*_, mean) in zip(regions, want):
            assert conf == pytest.approx(mean, abs=1e-5)
            assert (parent, names) == (0, ["detection"]) and rid != 0     # no parent; ids are never 0
    ids = [r[5] for regions in got for r in regions]
    assert len(set(ids)) == len(ids)                  # and never repeat
    assert got[2] == []                               # every confidence under the threshold


def crop_oracle(model, frame, rect):
    x, y, w, h = rect
    crop = np.ascontiguousarray(frame[y:y + h, x:x + w])
    compiled = ovfast.compile_model(ovfast.gst.frame_model(model, "BGR", w, h, (w * 3,), (0,))[0], "CPU", F32_CONFIG)
    return compiled(crop[None])[0]


@pytest.mark.parametrize("jobs", [1, 2, 4])
def test_classifier_on_each_region_equals_the_crop_run_from_python(models, jobs):
    det, cls = models
    frames = [frame_with_means(200 - 7 * i, 60 + 5 * i, 150, seed=10 + i) for i in range(8)]
    got, error = run_appsrc(f"ovfastinfer model={det} output=detection labels={LABELS} threshold=0.2 ! "
                            f"ovfastinfer model={cls} region=roi output=classification jobs={jobs} {F32} "
                            f"labels=a,b,c,d,e", frames, "BGR", 64, 48, regions=True)
    assert error is None and len(got) == len(frames)
    model = classifier()
    for i, ((pts, regions), frame) in enumerate(zip(got, frames)):
        assert pts == i * Gst.SECOND // 30
        assert len(regions) == 3
        for label, rect, classes, tensors in regions:
            want = crop_oracle(model, frame, rect)
            assert [t[0] for t in tensors] == ["scores"]
            # the element samples the crop: its pixels are the oracle's to float rounding (~1e-3 of 255,
            # test_region_crop_equals_a_resize_of_the_crop); this classifier's logits are tens, and its
            # softmax turns that into up to ~2e-3 of a score
            np.testing.assert_allclose(tensors[0][1], want, rtol=5e-3, atol=1e-5)
            best = int(np.argmax(want))
            assert classes == [{"label": "abcde"[best], "label_id": best, "confidence": pytest.approx(
                float(want[0, best]), rel=5e-3)}]


def passthrough(h, w, channels, element_type, layout):
    """A model that returns its input as f32: what the preprocessing fed it."""
    x = ops.parameter([1, h, w, channels] if layout == "NHWC" else [1, channels, h, w], element_type, name="image")
    model = openvino.Model([ops.convert(x, openvino.Type.f32)], [x], "passthrough")
    model.outputs[0].tensor.set_names({"pixels"})
    return model


# (format, bytes a pixel, model element type, model layout, frame height, width, row padding, model height,
# width); each runs through both crops
CROP_CASES = [("BGR", 3, openvino.Type.f32, "NHWC", 37, 45, 1, 16, 12),
              ("RGB", 3, openvino.Type.f32, "NCHW", 20, 30, 6, 16, 12),
              ("BGRx", 4, openvino.Type.u8, "NCHW", 33, 21, 0, 16, 12),
              ("GRAY8", 1, openvino.Type.f32, "NHWC", 25, 19, 1, 16, 12),
              ("RGBx", 4, openvino.Type.u8, "NHWC", 16, 12, 0, 16, 12),
              ("RGB", 3, openvino.Type.u8, "NCHW", 50, 70, 2, 48, 64),
              ("BGR", 3, openvino.Type.f32, "NCHW", 70, 90, 2, 136, 128),
              ("GRAY8", 1, openvino.Type.u8, "NHWC", 60, 50, 2, 130, 140),
              ("GRAY8", 1, openvino.Type.f32, "NHWC", 6, 2100, 0, 16, 12)]     # crops far from x = 0


@pytest.fixture(scope="module", autouse=True)
def _forget_crop_cases():
    yield
    crop_case.cache_clear()  # its compiled models live as long as this module's tests


@functools.lru_cache(maxsize=None)
def crop_case(case, crop):
    """(model, compiled region model, frame, its pixels) for CROP_CASES[case] and a crop, made once."""
    fmt, bpp, etype, layout, height, width, pad, mh, mw = CROP_CASES[case]
    model = passthrough(mh, mw, 1 if fmt == "GRAY8" else 3, etype, layout)
    stride = width * bpp + pad
    compiled = ovfast.compile_model(region_model(model, fmt, width, height, (stride,), crop), "CPU", F32_CONFIG)
    frame = np.random.default_rng(case).integers(0, 256, (1, height, stride), dtype=np.uint8)
    return model, compiled, frame, frame[0, :, :width * bpp].reshape(height, width, bpp)


def f32_crop_tolerance(w, h):
    """How far an f32 pixel of a w x h crop may be from OpenVINO's resize of it: a blend weight comes from the
    coordinate inside the crop, (i + 0.5) / (n / size) - 0.5, which the CPU plugin's vector arithmetic gets
    within a few ulp (up to 2 seen against numpy for the same graph), on each axis, times a neighbour
    difference of up to 255. Measured inside the crop, it does not grow with where the crop lies."""
    return 255 * 2 * 4 * float(np.spacing(np.float32(max(w, h))))


def check_crop(case, crop, x, y, w, h):
    """The element's crop against the crop cut out in numpy and run through the frame preprocessing for its
    size (OpenVINO's own linear resize). Float models: the same pixels to float rounding of the blend
    weights (f32_crop_tolerance); integer ones round the resize, at most 1 apart."""
    fmt, bpp, etype = CROP_CASES[case][:3]
    model, compiled, frame, pixels = crop_case(case, crop)
    got = compiled({"frame": frame, "roi": np.array([x, y, w, h], np.int64)})[0]
    crop = np.ascontiguousarray(pixels[y:y + h, x:x + w])
    oracle = ovfast.compile_model(ovfast.gst.frame_model(model, fmt, w, h, (w * bpp,), (0,))[0], "CPU", F32_CONFIG)
    want = oracle(crop[None])[0]
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=0, atol=1.0 if etype == openvino.Type.u8 else f32_crop_tolerance(w, h),
                               err_msg=f"{fmt} {etype} {crop} roi {(x, y, w, h)}")


CASE_IDS = [f"{c[0]}-{c[2]}-{c[3]}" for c in CROP_CASES]


@pytest.mark.parametrize("crop", ["sampled", "sliced"])
@pytest.mark.parametrize("case", range(len(CROP_CASES)), ids=CASE_IDS)
def test_region_crop_at_the_edges_equals_a_resize_of_the_crop(case, crop):
    """The whole frame, 1x1 corners, strips along every edge, a centred half, a small upscale; rows padded."""
    height, width = CROP_CASES[case][4:6]
    for rect in [(0, 0, width, height), (0, 0, 1, 1), (width - 1, height - 1, 1, 1), (width - 5, 0, 5, height),
                 (0, height - 3, width, 3), (width // 4, height // 4, width // 2, height // 2), (1, 1, 5, 4)]:
        check_crop(case, crop, *rect)


@st.composite
def case_and_rect(draw):
    case = draw(st.integers(0, len(CROP_CASES) - 1))
    height, width = CROP_CASES[case][4:6]
    w, h = draw(st.integers(1, width)), draw(st.integers(1, height))
    return case, draw(st.sampled_from(["sampled", "sliced"])), draw(st.integers(0, width - w)), \
        draw(st.integers(0, height - h)), w, h


@settings(max_examples=60, deadline=None)
@given(case_and_rect())
def test_region_crop_anywhere_equals_a_resize_of_the_crop(case_rect):
    """Any rectangle of any case: shrinking, growing, stretching one way only."""
    check_crop(*case_rect)


def test_region_model_with_a_dynamic_input_size_crops_at_the_region_size():
    """A model whose input takes any size gets the crop at the region's own size (nothing to resize to)."""
    x = ops.parameter([1, -1, -1, 3], openvino.Type.f32, name="image")
    model = openvino.Model([ops.reduce_mean(x, np.array([1, 2], np.int64), False)], [x], "means")
    frame = np.arange(20 * 24 * 3, dtype=np.uint8).reshape(1, 20, 72) % 251
    compiled = ovfast.compile_model(region_model(model, "BGR", 24, 20, (72,)), "CPU", F32_CONFIG)
    for x0, y0, w, h in [(0, 0, 24, 20), (3, 5, 7, 2), (23, 19, 1, 1)]:
        got = compiled({"frame": frame, "roi": np.array([x0, y0, w, h], np.int64)})[0]
        crop = frame[0].reshape(20, 24, 3)[y0:y0 + h, x0:x0 + w].astype(np.float64)
        np.testing.assert_allclose(got[0], crop.mean((0, 1)), rtol=1e-5)


def test_crop_plan_by_model_size():
    """Small models take the sampled crop alone, medium ones both (the sampled one for regions of at least
    SAMPLED_FROM x their pixels), large or size-free ones the sliced crop alone."""
    def plan(h, w):
        return crop_plan(passthrough(h, w, 3, openvino.Type.u8, "NHWC"))
    side = int(SAMPLED_ONLY_PIXELS ** 0.5)
    assert plan(16, 16) == plan(side, side) == [("sampled", 0)]
    assert plan(side + 1, side) == [("sliced", 0), ("sampled", SAMPLED_FROM * (side + 1) * side)]
    assert plan(BOTH_CROPS_PIXELS, 1) == [("sliced", 0), ("sampled", SAMPLED_FROM * BOTH_CROPS_PIXELS)]
    assert plan(BOTH_CROPS_PIXELS + 1, 1) == plan(224, 224) == [("sliced", 0)]
    x = ops.parameter([1, -1, -1, 3], openvino.Type.u8, name="image")
    size_free = openvino.Model([ops.convert(x, openvino.Type.f32)], [x], "any size")
    assert crop_plan(size_free) == [("sliced", 0)]
    with pytest.raises(ValueError, match="fixed"):
        region_model(size_free, "BGR", 24, 20, (72,), "sampled")
    with pytest.raises(ValueError, match="'sampled' or 'sliced'"):
        region_model(passthrough(8, 8, 3, openvino.Type.u8, "NHWC"), "BGR", 24, 20, (72,), "nearest")


# Frames of 320x240 and a 48x48 classifier: both crops, the sampled one from 6 x 2,304 = 13,824 pixels; the
# detector's boxes are 128x120 (15,360 pixels: sampled), 320x240 (sampled) and 128x84 (10,752: sliced).
BIG_W, BIG_H, MEDIUM = 320, 240, 48


def medium_models(folder):
    """(detector for BIG_W x BIG_H frames, MEDIUM classifier) saved in folder: the classifier takes both crops."""
    assert [kind for kind, _ in crop_plan(classifier(MEDIUM))] == ["sliced", "sampled"]
    return save(detector(BIG_H, BIG_W), folder, "det_big"), save(classifier(MEDIUM), folder, "cls_medium")


def medium_run(models_folder, frames):
    det, cls = medium_models(models_folder)
    return run_appsrc(f"ovfastinfer model={det} output=detection labels={LABELS} threshold=0.2 ! "
                      f"ovfastinfer model={cls} region=roi jobs=2 {F32}", frames, "BGR", BIG_W, BIG_H, regions=True)


def test_a_medium_classifier_runs_each_region_through_the_cheaper_crop(tmp_path, monkeypatch):
    """Which crop each region takes: the sampled crop's model is marked (+1000 on its outputs), so the
    scores say which compilation ran; the regions of at least big_from pixels, and only they, show it."""
    real = _model.region_model

    def marked(model, fmt, width, height, strides, crop=None):
        built = real(model, fmt, width, height, strides, crop)
        if crop == "sampled":
            for result in built.get_results():
                source = result.input_value(0)
                names = source.get_names()
                plus = ops.add(source, np.float32(1000))
                result.input(0).replace_source_output(plus.output(0))
                plus.output(0).set_names(names)
        return built

    monkeypatch.setattr(_model, "region_model", marked)
    frames = [frame_with_means(200, 60 + 20 * i, 150, BIG_H, BIG_W, seed=i) for i in range(3)]
    got, error = medium_run(tmp_path, frames)
    assert error is None and len(got) == len(frames)
    big_from = SAMPLED_FROM * MEDIUM * MEDIUM
    for _, regions in got:
        sizes = sorted(rect[2] * rect[3] for _, rect, _, _ in regions)
        assert sizes[0] < big_from <= sizes[1]          # both kinds on every frame
        for _, rect, _, tensors in regions:
            marked_run = bool(tensors[0][1].min() >= 1000)
            assert marked_run == (rect[2] * rect[3] >= big_from), rect


def test_a_medium_classifier_on_both_crops_equals_the_crop_run_from_python(tmp_path):
    frames = [frame_with_means(180 - 9 * i, 70 + 11 * i, 140, BIG_H, BIG_W, seed=20 + i) for i in range(4)]
    got, error = medium_run(tmp_path, frames)
    assert error is None and len(got) == len(frames)
    model = classifier(MEDIUM)
    for (_, regions), frame in zip(got, frames):
        assert len(regions) == 3
        for _, rect, _, tensors in regions:
            np.testing.assert_allclose(tensors[0][1], crop_oracle(model, frame, rect), rtol=5e-3, atol=1e-5)


def test_null_mid_stream_with_both_crops_twenty_times_frees_everything(tmp_path):
    """Both compilations are let go at every stop, with regions in flight in each: RSS stays flat and no
    session (which holds both compiled models and their queues) outlives its pipeline."""
    def sessions():
        gc.collect()
        return sum(type(o) is _model.Session for o in gc.get_objects())

    before = sessions()          # (other tests' pipelines not yet collected may hold some)
    det, cls = medium_models(tmp_path)
    assert_null_cycles_free_everything(
        f"videotestsrc pattern=white ! video/x-raw,format=BGR,width={BIG_W},height={BIG_H} ! "
        f"ovfastinfer model={det} output=detection threshold=0.2 ! ovfastinfer model={cls} region=roi "
        f"output=classification jobs=2 ! fakesink name=sink sync=false", 10)
    assert sessions() <= before


def test_elements_ask_for_throughput_sized_to_their_jobs():
    from ovfast.gst._model import streaming_config
    core = ovfast.Core()
    assert streaming_config(core, "CPU", {}, 3) == {"PERFORMANCE_HINT": "THROUGHPUT",
                                                    "PERFORMANCE_HINT_NUM_REQUESTS": "3"}
    assert streaming_config(core, "CPU", {"INFERENCE_PRECISION_HINT": "f32"}, 0) == {
        "INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "THROUGHPUT"}
    assert streaming_config(core, "AUTO:CPU", {}, 2)["PERFORMANCE_HINT"] == "THROUGHPUT"   # asked of AUTO
    for given in ({"PERFORMANCE_HINT": "LATENCY"}, {"NUM_STREAMS": "1"}):     # the user's word stands
        assert streaming_config(core, "CPU", dict(given), 2) == given


def test_roi_label_picks_the_regions_and_frames_without_regions_pass(models):
    det, cls = models
    frames = [frame_with_means(200, 200, 200, seed=4)]
    got, error = run_appsrc(f"ovfastinfer model={det} output=detection labels={LABELS} ! "
                            f"ovfastinfer model={cls} region=roi roi-label=car output=classification {F32}",
                            frames, "BGR", 64, 48, regions=True)
    assert error is None
    assert [(label, len(classes), len(tensors)) for label, _, classes, tensors in got[0][1]] == \
        [("face", 0, 0), ("car", 1, 1), ("dog", 0, 0)]
    # no regions upstream: frames pass unchanged, nothing attached
    got, error = run_appsrc(f"ovfastinfer model={cls} region=roi output=classification", frames, "BGR", 64, 48,
                            regions=True)
    assert error is None and got[0][1] == []


def test_classification_of_the_whole_frame(models):
    _, cls = models
    frame = frame_with_means(90, 120, 30, h=16, w=16, seed=6)
    got, error = run_appsrc(f"ovfastinfer model={cls} output=classification {F32}", [frame], "BGR", 16, 16,
                            regions=True)
    assert error is None
    [(label, rect, classes, tensors)] = got[0][1]
    want = ovfast.compile_model(classifier(), "CPU", F32_CONFIG)(frame[None])[0]
    best = int(np.argmax(want))
    assert (label, rect) == (str(best), (0, 0, 16, 16))
    assert classes[0]["label_id"] == best and classes[0]["confidence"] == pytest.approx(float(want[0, best]), rel=1e-5)


def test_bad_region_settings(models, tmp_path):
    det, cls = models
    src = "videotestsrc num-buffers=3 ! video/x-raw,format=BGR,width=64,height=48"
    text = bus_error(f"{src} ! ovfastinfer model={cls} output=detection ! fakesink")
    assert "[1,1,N,7]" in text and "'scores' is f32[1, 5]" in text
    assert "region='boxes' is not one of frame, roi" in bus_error(f"{src} ! ovfastinfer model={cls} region=boxes ! "
                                                                  f"fakesink")
    text = bus_error(f"videotestsrc num-buffers=3 ! video/x-raw,format=NV12,width=64,height=48 ! "
                     f"ovfastinfer model={cls} region=roi ! fakesink")
    assert "region=roi reads regions of packed frames" in text
    assert "could not be read" in bus_error(f"{src} ! ovfastinfer model={det} output=detection "
                                            f"labels={tmp_path} ! fakesink")


def test_add_region_and_regions_from_python():
    caps = Gst.Caps.from_string("video/x-raw,format=BGR,width=8,height=4")
    buf = Gst.Buffer.new_wrapped(bytes(96))
    with VideoFrame(buf, caps) as f:
        r = f.add_region(1, 1, 4, 2, "person", confidence=0.75, label_id=3)
        assert (r.label(), r.rect(), r.confidence(), r.label_id()) == ("person", (1, 1, 4, 2), 0.75, 3)
        second = f.add_region(0, 0, 8, 4)
        assert 0 != r.region_id() != second.region_id() != 0
        assert [(x.label(), x.confidence()) for x in f.regions()] == [("person", 0.75), ("", 0.0)]
        for bad, clipped in [((0, 0, 9, 4), (0, 0, 8, 4)), ((-1, 0, 2, 2), (0, 0, 2, 2)), ((7, 3, 5, 5), (7, 3, 1, 1))]:
            with pytest.warns(UserWarning, match="clipped"):        # as gstgva: clipped to the frame
                assert tuple(f.add_region(*bad).rect()) == clipped
        with pytest.raises(ValueError, match="confidence"):
            f.add_region(0, 0, 1, 1, confidence=1.5)
        view = f.data()                                # keeps the memory, not the buffer: still writable
        f.add_region(0, 0, 1, 1)
        del view
    # the regions any element put there (GstVideo's own API) read the same way
    GstVideo.buffer_add_video_region_of_interest_meta(buf, "cat", 2, 2, 2, 2)
    assert [r.label() for r in VideoFrame(buf, caps).regions()] == ["person", "", "", "", "", "", "cat"]
    # in a Python pad probe PyGObject's Gst.Buffer is a second reference: refused, with the reason
    errors = []

    def probe(pad, info):
        with VideoFrame(info.get_buffer(), pad.get_current_caps()) as frame:
            try:
                frame.add_region(0, 0, 1, 1)
            except RuntimeError as exc:
                errors.append(str(exc))
        return Gst.PadProbeReturn.OK

    p = pipeline("videotestsrc num-buffers=2 ! video/x-raw,format=BGR,width=8,height=4 ! identity name=probe ! "
                 "fakesink")
    p.get_by_name("probe").get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, probe)
    assert bus_error_of(p) is None
    assert len(errors) == 2 and all("not writable" in e and "ovfastpython" in e for e in errors)

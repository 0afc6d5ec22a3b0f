"""openvino-model-api (the `model_api` package) driven the way its users drive it, as one script.

Tests run this file as a subprocess, once with openvino's runtime under model_api and once with ovfast's
in its place, and compare what it prints: every result is printed, one line each, with floats rounded, so
the two runs print the same text exactly when model_api gets the same answers from both runtimes. It is not
a test module itself (pytest does not collect it; nothing here is named test_*).

Nothing is downloaded: it builds two small stand-in models with openvino's graph API, each carrying the
`model_info` rt_info that model_api reads to pick and configure its wrapper (a classifier and an SSD-style
detector), saves them as IR in a temporary folder and then uses model_api's public entry points on them:
the synchronous call, its callback API (`infer_async`, `set_callback`, `await_all`, `is_ready`),
`infer_batch`, `AsyncPipeline`, the detection tiler, and `save` followed by a reload.

Run: python tests/model_api_programs.py     (exit status 0; results on stdout; the runtime in use on stderr)
"""

import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import openvino as ov
import openvino.opset13 as ops

CLASS_LABELS = ["cat", "dog", "bird", "fish", "frog"]
BOX_LABELS = ["car", "person", "bike", "sign"]


def _set_model_info(model, info):
    # model_api reads each setting with adapter.get_rt_info(["model_info", name]).astype(str), so every value
    # is stored as a string in the form its parameter types parse (lists space-separated, booleans "True")
    for key, value in info.items():
        model.set_rt_info(value, ["model_info", key])


def build_classifier(folder):
    """NCHW f32[1,3,32,32] image -> softmax over 5 classes, from a 3x3 conv, ReLU, global average and a dense
    layer: enough arithmetic that images with different colours get different classes."""
    rng = np.random.default_rng(7)
    image = ops.parameter([1, 3, 32, 32], np.float32, name="image")
    conv = ops.convolution(image, ops.constant(rng.normal(0, 0.5, (6, 3, 3, 3)).astype(np.float32)),
                           strides=[2, 2], pads_begin=[1, 1], pads_end=[1, 1], dilations=[1, 1])
    pooled = ops.reduce_mean(ops.relu(conv), ops.constant(np.array([2, 3], np.int64)), keep_dims=False)
    dense = ops.constant(rng.normal(0, 0.4, (6, 5)).astype(np.float32))   # small: no class takes all
    logits = ops.add(ops.matmul(pooled, dense, False, False),
                     ops.constant(rng.normal(0, 0.5, (1, 5)).astype(np.float32)))
    probs = ops.softmax(logits, 1)
    probs.output(0).get_tensor().set_names({"probabilities"})
    model = ov.Model([probs], [image], "stand_in_classifier")
    _set_model_info(model, {
        "model_type": "Classification",
        "labels": " ".join(CLASS_LABELS),
        "topk": "3",
        "output_raw_scores": "True",
        # normalisation is embedded into the model by model_api's PrePostProcessor, as for real exports
        "mean_values": "127.5 127.5 127.5",
        "scale_values": "64 64 64",
        "reverse_input_channels": "True",
        "resize_type": "standard",
    })
    path = str(Path(folder) / "classifier.xml")
    ov.save_model(model, path, compress_to_fp16=False)  # f32 weights: no rounding between build and run
    return path


def build_ssd(folder, boxes=6):
    """NHWC f32[1,48,64,3] image -> one "detection_out" f32[1,1,N,7] of [image_id, label, score, xmin, ymin,
    xmax, ymax] rows (coordinates normalised), the single-output SSD layout model_api's SSD wrapper parses.
    Each box's centre, size and score come from the image's per-channel means through small dense layers, so
    every image (and every tile of one) gets its own boxes."""
    rng = np.random.default_rng(11)

    def dense(features, scale):
        weights = ops.constant(rng.normal(0, scale, (3, boxes)).astype(np.float32))
        bias = ops.constant(rng.normal(0, 0.5, (1, boxes)).astype(np.float32))
        return ops.sigmoid(ops.add(ops.matmul(features, weights, False, False), bias))

    def half_of(size):
        return ops.multiply(size, ops.constant(np.float32(0.5)))

    image = ops.parameter([1, 48, 64, 3], np.float32, name="image")
    means = ops.multiply(ops.reduce_mean(image, ops.constant(np.array([1, 2], np.int64)), keep_dims=False),
                         ops.constant(np.float32(1 / 255)))                     # [1,3], in 0..1
    def size():   # 0.08..0.48 of the input, so some boxes overlap and NMS has work to do
        return ops.add(ops.multiply(dense(means, 2.0), ops.constant(np.float32(0.4))),
                       ops.constant(np.float32(0.08)))

    centre_x, centre_y = dense(means, 4.0), dense(means, 4.0)
    width, height = size(), size()
    score = dense(means, 6.0)   # spread out: some boxes fall under confidence_threshold
    label = ops.constant(np.array([[i % len(BOX_LABELS) for i in range(boxes)]], np.float32))
    image_id = ops.constant(np.zeros((1, boxes), np.float32))
    columns = [image_id, label, score,
               ops.subtract(centre_x, half_of(width)), ops.subtract(centre_y, half_of(height)),
               ops.add(centre_x, half_of(width)), ops.add(centre_y, half_of(height))]
    rows = ops.concat([ops.unsqueeze(c, ops.constant(np.int64(2))) for c in columns], 2)   # [1,N,7]
    out = ops.reshape(rows, ops.constant(np.array([1, 1, boxes, 7], np.int64)), False)
    out.output(0).get_tensor().set_names({"detection_out"})
    model = ov.Model([out], [image], "stand_in_ssd")
    _set_model_info(model, {
        "model_type": "SSD",
        "labels": " ".join(BOX_LABELS),
        "confidence_threshold": "0.3",
        "resize_type": "fit_to_window_letterbox",  # letterboxing: boxes are mapped back through the padding
        "pad_value": "0",
        "nms_execute": "True",
        "iou_threshold": "0.4",
    })
    path = str(Path(folder) / "ssd.xml")
    ov.save_model(model, path, compress_to_fp16=False)
    return path


def make_images():
    """Five HxWx3 uint8 (BGR, as cv2 reads) images of different sizes: a random base colour per image plus
    noise and a horizontal ramp, so colours (and so the stand-in models' answers) differ between them."""
    rng = np.random.default_rng(2024)
    images = []
    for h, w in [(48, 64), (100, 80), (37, 53), (64, 64), (120, 90)]:
        base = rng.integers(0, 256, size=3)
        noise = rng.integers(-40, 41, size=(h, w, 3))
        ramp = np.linspace(-30, 30, w)[None, :, None]
        images.append(np.clip(base + noise + ramp, 0, 255).astype(np.uint8))
    return images


def make_scene():
    """A 160x200 image of four differently coloured quadrants, for the tiler: tiles see different colours."""
    rng = np.random.default_rng(99)
    scene = np.empty((160, 200, 3), np.uint8)
    for top, left in [(0, 0), (0, 100), (80, 0), (80, 100)]:
        colour = rng.integers(0, 256, size=3)
        noise = rng.integers(-20, 21, size=(80, 100, 3))
        scene[top:top + 80, left:left + 100] = np.clip(colour + noise, 0, 255)
    return scene


def _f(value):
    # 4 decimals and no "-0.0": the same float from either runtime prints the same text
    return f"{round(float(value), 4) + 0.0:.4f}"


def format_classification(result, raw=True):
    labels = " ".join(f"{int(label.id)}:{label.name}:{_f(label.confidence)}" for label in result.top_labels)
    if not raw:
        return f"top={labels}"
    return f"top={labels} raw=[{' '.join(_f(v) for v in np.asarray(result.raw_scores).reshape(-1))}]"


def format_detection(result):
    boxes = "; ".join(f"{int(label)}:{name}:{_f(score)}:{','.join(str(int(c)) for c in box)}"
                      for box, score, label, name in zip(result.bboxes, result.scores, result.labels,
                                                         result.label_names))
    return f"n={len(result)} [{boxes}]"


def report_runtime(tag, model):
    # stderr, not stdout: which runtime model_api ended up on differs between the runs by design
    adapter = model.inference_adapter
    print(f"{tag}: {type(adapter.compiled_model).__module__}.{type(adapter.compiled_model).__name__}, "
          f"{type(adapter.async_queue).__module__}.{type(adapter.async_queue).__name__}", file=sys.stderr)


def run_sync(classifier_path, ssd_path, images):
    from model_api.models import SSD, ClassificationModel, Model

    # the generic entry point picks the wrapper from rt_info's model_type; device "CPU" rather than
    # create_model's default AUTO, so both runs compile for the same device
    classifier = Model.create_model(classifier_path, device="CPU")
    report_runtime("classifier runtime", classifier)
    print(f"classifier wrapper: {type(classifier).__name__} input={classifier.h}x{classifier.w} "
          f"layout={'NCHW' if classifier.nchw_layout else 'NHWC'} "
          f"requests={len(classifier.inference_adapter.async_queue)}")
    for i, image in enumerate(images):
        print(f"cls sync img{i}: {format_classification(classifier(image))}")

    # a wrapper class's own create_model, with configuration overriding rt_info
    top1 = ClassificationModel.create_model(classifier_path, configuration={"topk": 1}, device="CPU")
    for i, image in enumerate(images):
        print(f"cls top1 img{i}: {format_classification(top1(image))}")

    detector = SSD.create_model(ssd_path, device="CPU")
    print(f"ssd wrapper: {type(detector).__name__} input={detector.h}x{detector.w} "
          f"layout={'NCHW' if detector.nchw_layout else 'NHWC'} parser={type(detector.output_parser).__name__}")
    for i, image in enumerate(images):
        print(f"ssd sync img{i}: {format_detection(detector(image))}")
    return classifier, detector


def run_callbacks(classifier, detector, images):
    """The wrapper's callback API: results come back on OpenVINO's threads in any order, keyed by user data.

    Each result is formatted inside the callback: a ClassificationResult's raw_scores is a view of the
    request's output tensor (model_api's get_raw_result does not copy, and get_all_probs returns already
    softmaxed scores as they are), so it holds the next image's scores once that request runs again."""
    for name, model, fmt in [("cls", classifier, format_classification), ("ssd", detector, format_detection)]:
        lines = {}

        def keep(result, user_data, lines=lines, fmt=fmt):
            lines[user_data] = fmt(result)

        model.set_callback(keep)
        for i, image in enumerate(images * 2):   # more images than requests: infer_async waits for a free one
            model.infer_async(image, f"img{i % len(images)}#{i // len(images)}")
        model.await_all()
        print(f"{name} callbacks: {len(lines)} results, ready={model.is_ready()}")
        for key in sorted(lines):
            print(f"{name} async {key}: {lines[key]}")


def run_infer_batch(classifier, detector, images):
    # raw scores left out: infer_batch hands back results whose raw_scores alias reused requests (see above)
    for i, result in enumerate(classifier.infer_batch(images)):
        print(f"cls batch img{i}: {format_classification(result, raw=False)}")
    for i, result in enumerate(detector.infer_batch(images[::-1])):
        print(f"ssd batch rev{i}: {format_detection(result)}")


def run_pipeline(ssd_path, classifier_path, images):
    """AsyncPipeline over an adapter built by hand with more requests, as a video demo does: keep submitting
    while requests are free, show results in submission order as soon as they are there."""
    from model_api.adapters import OpenvinoAdapter, create_core
    from model_api.models import Model
    from model_api.pipelines import AsyncPipeline

    for name, path, fmt in [("ssd", ssd_path, format_detection), ("cls", classifier_path, format_classification)]:
        adapter = OpenvinoAdapter(create_core(), path, device="CPU", plugin_config={"NUM_STREAMS": "2"},
                                  max_num_requests=3)
        model = Model.create_model(adapter)
        report_runtime(f"{name} pipeline runtime", model)
        # AsyncPipeline's callback copies the outputs (copy_raw_result), so raw scores stay valid here
        pipeline = AsyncPipeline(model)
        print(f"{name} pipeline: requests={len(adapter.async_queue)}")
        frames = images * 3
        shown = 0   # frames before this one are printed
        for frame_id, frame in enumerate(frames):
            if not pipeline.is_ready():
                pipeline.await_any()
            pipeline.submit_data(frame, frame_id, {"frame": frame_id})
            # print what has finished, in order, while later frames are in flight; when that happens is the
            # runtime's timing, but the lines (and their order) are the same either way
            while (done := pipeline.get_result(shown)) is not None:
                print(f"{name} pipeline frame{shown} {_format_meta(done[1])}: {fmt(done[0])}")
                shown += 1
        pipeline.await_all()
        for frame_id in range(shown, len(frames)):
            result, meta = pipeline.get_result(frame_id)
            print(f"{name} pipeline frame{frame_id} {_format_meta(meta)}: {fmt(result)}")


def _format_meta(meta):
    # the pipeline's meta is the caller's dict merged with model_api's preprocessing meta
    return f"meta={meta['frame']},{meta['original_shape']}"


def run_tiler(ssd_path, scene):
    from model_api.models import SSD
    from model_api.tilers import DetectionTiler

    detector = SSD.create_model(ssd_path, device="CPU")
    # 80-pixel tiles overlapping by a quarter, plus the whole image: 13 tiles of several sizes, some cut off
    # at the border; async runs them through model_api's AsyncPipeline, sync one by one
    for mode in ("async", "sync"):
        tiler = DetectionTiler(detector, configuration={"tile_size": 80, "tiles_overlap": 0.25},
                               execution_mode=mode)
        print(f"tiler {mode}: {format_detection(tiler(scene))}")


def run_save_and_reload(classifier, folder, images):
    """model_api's save writes the model with its preprocessing embedded and the settings in rt_info; the
    reloaded wrapper answers as the original does."""
    from model_api.models import Model

    path = str(Path(folder) / "classifier_saved.xml")
    classifier.save(path)
    reloaded = Model.create_model(path, device="CPU")
    print(f"reloaded: {type(reloaded).__name__} embedded={reloaded.params.embedded_processing} "
          f"input={reloaded.h}x{reloaded.w}")
    for i, image in enumerate(images[:2]):
        print(f"cls reloaded img{i}: {format_classification(reloaded(image))}")


def run_kept_results(classifier_path, images):
    """Results kept and read after all the calls, as `results = [model(image) for image in images]` does.

    Top labels are model_api's own copies, but raw_scores is a view of the output tensor of the request that
    ran the call: model_api's infer_sync runs `queue[queue.get_idle_request_id()]` and get_raw_result does
    not copy. So each kept raw_scores shows the last image its request ran: these lines print which request
    ran which call (with openvino, always the first idle one, since running a job directly does not change
    the queue's idle order), not model_api's answers."""
    from model_api.models import Model

    classifier = Model.create_model(classifier_path, device="CPU")   # a fresh queue: every request idle
    kept = [classifier(image) for image in images]
    for i, result in enumerate(kept):
        print(f"cls kept img{i}: {format_classification(result)}")


def main():
    folder = tempfile.mkdtemp(prefix="model_api_programs_")
    try:
        classifier_path, ssd_path = build_classifier(folder), build_ssd(folder)
        images = make_images()
        classifier, detector = run_sync(classifier_path, ssd_path, images)
        run_callbacks(classifier, detector, images)
        run_infer_batch(classifier, detector, images)
        run_pipeline(ssd_path, classifier_path, images)
        run_tiler(ssd_path, make_scene())
        run_save_and_reload(classifier, folder, images)
        run_kept_results(classifier_path, images)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print("done")


if __name__ == "__main__":
    main()

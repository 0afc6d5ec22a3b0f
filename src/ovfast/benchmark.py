"""`python -m ovfast benchmark`: how much faster a model runs with ovfast than with openvino's Python API.

Runs the model (the user's, or a small built-in conv net) in three modes: sync calls, the job pool
(start_async) and whole batches (ovfast's map; openvino's equivalent is a start_async loop over the batch),
in ovfast and in openvino, with the same device and configuration, in one process. Each mode's time is
cut into slices that alternate between the two libraries, so machine drift hits both alike.
"""

import argparse
import json
import os
import re
import sys
import time

import numpy as np

MODES = ("sync", "pool", "map")
SLICES = 4                  # time slices per mode and library, alternated
PROGRESS_EVERY = 0.1        # seconds between progress bar updates


class UsageError(Exception):
    """Bad input from the command line: reported in one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):   # one line and exit code 2, not argparse's usage block
        raise UsageError(f"{message} (see --help)")


def build_parser():
    parser = _Parser(prog="ovfast", description="ovfast command line")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    b = sub.add_parser("benchmark", help="time a model in ovfast and in openvino, side by side",
                       description=__doc__.split("\n\n")[1].replace("\n", " "))
    b.add_argument("model", nargs="?", help="model file openvino reads (.xml, .onnx, ...); default: a built-in "
                                            "conv net")
    b.add_argument("-d", "--device", default="CPU", help="device (default CPU)")
    b.add_argument("-t", "--time", type=_positive(float), default=5.0, metavar="SECONDS",
                   help="seconds per mode and library (default 5)")
    b.add_argument("--jobs", type=_positive(int, zero=True), default=0, metavar="N",
                   help="jobs in the pool (default 0: the device's optimal number)")
    b.add_argument("--shape", action="append", default=[], metavar="NAME=DIMS",
                   help="static shape for an input, e.g. image=1,3,224,224 (repeatable)")
    b.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    b.add_argument("--plot", metavar="FILE.png", help="also draw them as bars (needs matplotlib: "
                                                      "pip install 'ovfast[plot]')")
    b.add_argument("--no-compare", action="store_true", help="run ovfast only")
    p = sub.add_parser("pipeline", help="run a GStreamer pipeline with ovfast's elements, as gst-launch-1.0 does",
                       description="Runs a gst-launch-1.0 description with ovfast's elements registered; Ctrl-C "
                                   "ends it cleanly (EOS), and the frames per second of each sink are printed.")
    p.add_argument("description", nargs="+", help="the pipeline, e.g. 'videotestsrc num-buffers=100 ! "
                                                    "ovfastinfer model=m.xml ! fakesink'")
    sub.add_parser("gst-plugin-path", help="print the folder to put on GST_PLUGIN_PATH for gst-launch-1.0 and C "
                                           "programs",
                   description="Prints the folder that holds ovfast's GStreamer plugin (libgstovfast.so): with it on "
                               "GST_PLUGIN_PATH, any GStreamer program finds ovfastinfer and ovfastpython; the "
                               "plugin starts Python in programs that run none and loads this ovfast.")
    from ovfast import run
    run.add_parser(sub)
    from ovfast.serve import _cli as serve_cli   # argparse only: FastAPI and uvicorn load when it serves
    serve_cli.add_arguments(sub.add_parser("serve", help="serve models over KServe v2 REST (needs ovfast[serve])",
                                           description=serve_cli.DESCRIPTION))
    return parser


def gst_plugin_path():
    """`python -m ovfast gst-plugin-path`: prints the plugin's folder; 1 if this ovfast was built without it."""
    folder = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gst", "plugin")
    if not os.path.isfile(os.path.join(folder, "libgstovfast.so")):
        print(f"ovfast gst-plugin-path: error: this ovfast was built without its GStreamer plugin ({folder}"
              "/libgstovfast.so is missing): it needs GStreamer's development packages and a Python with a shared "
              "libpython at build time (see the README), then reinstall ovfast", file=sys.stderr)
        return 1
    print(folder)
    return 0


def _positive(kind, zero=False):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got '{text}'") from None
        if value < 0 or (value == 0 and not zero):
            raise argparse.ArgumentTypeError(f"expected a number {'>= 0' if zero else '> 0'}, got '{text}'")
        return value
    return parse


# --- the model --------------------------------------------------------------------------------------------

def builtin_model(side=64, stride=1):
    """Three 3x3 conv layers with ReLU on a 1x3xSIDExSIDE image, averaged to 32 features: at the
    defaults, milliseconds per inference on a CPU core."""
    import openvino
    import openvino.opset13 as ops

    rng = np.random.default_rng(0)
    x = ops.parameter([1, 3, side, side], np.float32, name="image")
    y = x
    for cin, cout in ((3, 16), (16, 32), (32, 32)):
        w = ops.constant((rng.standard_normal((cout, cin, 3, 3)) / (3 * cin)).astype(np.float32))
        y = ops.relu(ops.convolution(y, w, [stride, stride], [1, 1], [1, 1], [1, 1]))
    y = ops.reduce_mean(y, ops.constant(np.array([2, 3], np.int64)), False)
    model = openvino.Model(y, [x], "ovfast-builtin-conv")
    model.outputs[0].tensor.set_names({"features"})
    return model


def parse_shape(text):
    name, sep, dims = text.rpartition("=")
    try:
        if not sep or not name:
            raise ValueError
        values = [int(d) for d in dims.strip().strip("[]()").split(",")]
        if not values or any(v <= 0 for v in values):
            raise ValueError
    except ValueError:
        raise UsageError(f"--shape '{text}' is malformed: expected NAME=DIMS with positive dims, such as "
                         f"image=1,3,224,224") from None
    return name, values


def load_model(path, shape_args):
    import openvino

    if path is None:
        model = builtin_model()
    else:
        if not os.path.isfile(path):
            raise UsageError(f"model file '{path}' not found: give the path of a model openvino reads "
                             f"(.xml with its .bin, .onnx, ...) or none for the built-in model")
        if not os.access(path, os.R_OK):
            raise UsageError(f"model file '{path}' is not readable: check its permissions")
        try:
            model = openvino.Core().read_model(path)
        except Exception as e:
            raise UsageError(f"openvino cannot read '{path}': {_reason(e)}") from None
    names = {name: port for port in model.inputs for name in port.get_names()}
    shapes = {}
    for text in shape_args:
        name, dims = parse_shape(text)
        if name not in names:
            raise UsageError(f"--shape {text}: the model has no input '{name}'; its inputs are "
                             f"{sorted(names)}")
        shapes[names[name]] = openvino.PartialShape(dims)
    if shapes:
        try:
            model.reshape(shapes)
        except Exception as e:
            raise UsageError(f"cannot reshape the model with {' '.join(shape_args)}: {_reason(e)}") from None
    for port in model.inputs:
        if port.get_partial_shape().is_dynamic:
            raise UsageError(f"input '{port.get_any_name()}' has a dynamic shape {port.get_partial_shape()}: "
                             f"give it with --shape {port.get_any_name()}=DIMS")
    return model


def random_inputs(model, rng):
    """Random data of each input's shape and type, keyed by input name."""
    inputs = {}
    for port in model.inputs:
        name, shape = port.get_any_name(), tuple(port.get_shape())
        et = port.get_element_type()
        if et.bitwidth < 8 or et.get_type_name() == "string":
            raise UsageError(f"input '{name}' is of type {et.get_type_name()}, which the benchmark cannot fill")
        dtype = np.dtype(et.to_dtype())
        if dtype.kind == "f":
            inputs[name] = rng.standard_normal(shape).astype(dtype)
        elif dtype.kind == "b":
            inputs[name] = rng.integers(0, 2, shape).astype(dtype)
        else:
            inputs[name] = rng.integers(0, 8, shape).astype(dtype)
    return inputs


_SOURCE_LOCATION = re.compile(r"(Exception from|Check '[^\n]*?' failed at) \S+:\d+:")


def _reason(e):
    """An OpenVINO error in one line, without the source locations it is wrapped in."""
    text = " ".join(_SOURCE_LOCATION.sub(" ", str(e)).split())
    return text or type(e).__name__


# --- timing -----------------------------------------------------------------------------------------------

class _Clock:
    """Tells a run loop when its slice is over, and moves the phase's progress bar meanwhile (by the
    slice's planned time, so a last batch that runs over does not push the bar past its end)."""

    def __init__(self, bar, seconds):
        self.bar, self.seconds, self.moved = bar, seconds, 0.0
        self.start = self.last = time.perf_counter()
        self.end = self.start + seconds

    def running(self):
        now = time.perf_counter()
        if now - self.last >= PROGRESS_EVERY:
            self._move(now - self.start)
            self.last = now
        return now < self.end

    def close(self):
        self._move(self.seconds)

    def _move(self, to):
        to = min(to, self.seconds)
        if to > self.moved:
            self.bar.update(to - self.moved)
            self.moved = to


def run_sync(lib, setup, clock, lat):
    compiled, inputs = setup.latency[lib], setup.inputs
    n = 0
    while clock.running():
        t = time.perf_counter()
        compiled(inputs)
        lat.append(time.perf_counter() - t)
        n += 1
    return n


def run_pool(lib, setup, clock, lat):
    queue = setup.queues[lib]
    queue.set_callback(lambda request, userdata: lat.append(request.latency / 1e3))   # ms -> s
    n = 0
    while clock.running():
        queue.start_async(setup.inputs)
        n += 1
    queue.wait_all()
    return n


def run_map(lib, setup, clock, lat):
    batch, items = setup.batch, setup.batch_size
    queue = setup.queues[lib]
    if lib == "ovfast":
        run = lambda: queue.map(batch)   # map leaves the queue's callback (the pool mode's) uncalled  # noqa: E731
    else:
        # openvino has no map: the loop a user writes, start_async per item, results copied into arrays
        outs = {}

        def keep(request, i):
            for port, value in request.results.items():
                outs.setdefault(port.get_any_name(), np.empty((items,) + value.shape, value.dtype))[i] = value

        queue.set_callback(keep)

        def run():
            for i in range(items):
                queue.start_async({name: arr[i] for name, arr in batch.items()}, i)
            queue.wait_all()
    n = 0
    while clock.running():
        t = time.perf_counter()
        run()
        lat.append(time.perf_counter() - t)
        n += items
    return n


RUNNERS = {"sync": run_sync, "pool": run_pool, "map": run_map}
MODE_LABELS = {"sync": "sync calls", "pool": "job pool (start_async)", "map": "whole batch (map)"}


class _Setup:
    """Both libraries' compiled models and queues, built from one openvino.Model and one config."""

    def __init__(self, model, device, jobs, libs):
        import openvino
        import ovfast

        modules = {"ovfast": ovfast, "openvino": openvino}
        self.latency, self.throughput, self.queues = {}, {}, {}
        for lib in libs:
            core = modules[lib].Core()
            try:
                self.latency[lib] = core.compile_model(model, device, {"PERFORMANCE_HINT": "LATENCY"})
                self.throughput[lib] = core.compile_model(model, device, {"PERFORMANCE_HINT": "THROUGHPUT"})
            except Exception as e:
                raise UsageError(f"cannot compile for device '{device}': {_reason(e)}") from None
        first = self.throughput[libs[0]]
        self.jobs = jobs or int(first.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS"))
        for lib in libs:
            self.queues[lib] = modules[lib].AsyncInferQueue(self.throughput[lib], self.jobs)
        self.inputs = random_inputs(model, np.random.default_rng(0))
        self.batch_size = max(32, 8 * self.jobs)
        self.batch = {name: np.repeat(arr[None], self.batch_size, axis=0) for name, arr in self.inputs.items()}


def check_device(device):
    import openvino

    available = openvino.Core().available_devices
    base = device.split(":")[0].split(".")[0]
    if base not in ("AUTO", "MULTI", "HETERO", "BATCH") and not any(d.split(".")[0] == base for d in available):
        raise UsageError(f"unknown device '{device}': this machine has {', '.join(available)} (choose one with -d)")


def device_name(device):
    import openvino

    try:
        return str(openvino.Core().get_property(device, "FULL_DEVICE_NAME"))
    except Exception:
        return device


def measure(setup, libs, seconds, out=sys.stderr):
    from tqdm import tqdm

    figures = {}
    for mode in MODES:
        lat = {lib: [] for lib in libs}
        count = {lib: 0 for lib in libs}
        elapsed = {lib: 0.0 for lib in libs}
        bar = tqdm(total=round(seconds * len(libs), 3), desc=f"{MODE_LABELS[mode]:<24}", unit="s", file=out,
                   bar_format="{desc} {percentage:3.0f}%|{bar}| {n:.1f}/{total:.1f} s", leave=True)
        with bar:
            for k in range(SLICES):
                for lib in (libs if k % 2 == 0 else libs[::-1]):
                    clock = _Clock(bar, seconds / SLICES)
                    t = time.perf_counter()
                    count[lib] += RUNNERS[mode](lib, setup, clock, lat[lib])
                    elapsed[lib] += time.perf_counter() - t
                    clock.close()
        figures[mode] = {}
        for lib in libs:
            ms = np.asarray(lat[lib]) * 1e3
            figures[mode][lib] = {
                "items": count[lib], "seconds": round(elapsed[lib], 4),
                "throughput": count[lib] / elapsed[lib] if elapsed[lib] > 0 else 0.0,
                "latency_ms": {q: float(np.percentile(ms, p)) if ms.size else None
                               for q, p in (("median", 50), ("p90", 90), ("p99", 99))},
                "latency_of": "batch" if mode == "map" else "request",
            }
        if "openvino" in figures[mode]:
            ov_rate = figures[mode]["openvino"]["throughput"]
            figures[mode]["ratio"] = figures[mode]["ovfast"]["throughput"] / ov_rate if ov_rate else None
    return figures


def format_table(figures, batch_size):
    head = f"{'mode':<24} {'library':<9} {'throughput/s':>13} {'median ms':>10} {'p90 ms':>9} {'p99 ms':>9} " \
           f"{'ovfast/openvino':>16}"
    lines = [head, "-" * len(head)]
    for mode in MODES:
        for lib, f in figures[mode].items():
            if lib == "ratio":
                continue
            lat = f["latency_ms"]
            ratio = figures[mode].get("ratio") if lib == "ovfast" else None
            lines.append(f"{MODE_LABELS[mode]:<24} {lib:<9} {f['throughput']:>13,.1f} "
                         + " ".join(f"{lat[q]:>9.3f}" if lat[q] is not None else f"{'-':>9}"
                                    for q in ("median", "p90", "p99"))
                         + (f" {ratio:>15.2f}x" if ratio else ""))
    lines.append(f"map latencies are per batch of {batch_size} items; the others per request")
    return "\n".join(lines)


def plot(figures, path):
    try:
        import matplotlib
    except ImportError:
        raise UsageError("--plot needs matplotlib: pip install 'ovfast[plot]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    libs = [lib for lib in ("ovfast", "openvino") if lib in figures[MODES[0]]]
    fig, ax = plt.subplots(figsize=(7, 4))
    width = 0.8 / len(libs)
    for j, lib in enumerate(libs):
        ax.bar([i + j * width for i in range(len(MODES))], [figures[m][lib]["throughput"] for m in MODES],
               width, label=lib)
    ax.set_xticks([i + width * (len(libs) - 1) / 2 for i in range(len(MODES))], [MODE_LABELS[m] for m in MODES])
    ax.set_ylabel("inferences per second")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def benchmark(args, out=sys.stdout):
    import openvino
    import ovfast

    # what can fail after the run is checked before it
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise UsageError("--plot needs matplotlib: pip install 'ovfast[plot]'") from None
    for option, path in (("--json", args.json), ("--plot", args.plot)):
        if path and not os.path.isdir(os.path.dirname(os.path.abspath(path))):
            raise UsageError(f"{option} {path}: folder {os.path.dirname(os.path.abspath(path))} does not exist")
    check_device(args.device)
    model = load_model(args.model, args.shape)
    libs = ["ovfast"] if args.no_compare else ["ovfast", "openvino"]
    setup = _Setup(model, args.device, args.jobs, libs)
    print(f"ovfast {ovfast.__version__}, openvino {openvino.get_version()}", file=out)
    print(f"model: {args.model or 'built-in conv net'} "
          f"({', '.join(f'{n}{list(a.shape)} {a.dtype}' for n, a in setup.inputs.items())}); "
          f"device: {args.device} ({device_name(args.device)}); jobs: {setup.jobs}; "
          f"{args.time:g} s per mode and library", file=out)
    out.flush()
    figures = measure(setup, libs, args.time)
    print(format_table(figures, setup.batch_size), file=out)
    if args.json:
        report = {"ovfast": ovfast.__version__, "openvino": openvino.get_version(), "device": args.device,
                  "device_name": device_name(args.device), "model": args.model or "builtin",
                  "jobs": setup.jobs, "batch_size": setup.batch_size, "seconds": args.time, "modes": figures}
        try:
            with open(args.json, "w") as f:
                json.dump(report, f, indent=2)
        except OSError as e:
            raise UsageError(f"cannot write --json {args.json}: {e.strerror}") from None
    if args.plot:
        plot(figures, args.plot)
    return 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "run":   # its arguments are the program's; its Ctrl-C and errors are its own
        from ovfast import run
        return run.main(argv[1:])
    if argv and argv[0] == "serve":
        from ovfast.serve import _cli as serve_cli
        return serve_cli.main(argv[1:])
    try:
        args = build_parser().parse_args(argv)
        if args.command == "gst-plugin-path":
            return gst_plugin_path()
        if args.command == "pipeline":
            try:
                from ovfast.gst import pipeline
            except ImportError as exc:
                print(f"ovfast pipeline: error: {exc}", file=sys.stderr)
                return 2
            return pipeline.main(args)
        return benchmark(args)
    except UsageError as e:
        print(f"ovfast benchmark: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("ovfast benchmark: interrupted", file=sys.stderr)
        return 130


def main_exit():
    """The `ovfast` console script."""
    sys.exit(main())

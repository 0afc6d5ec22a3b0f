"""Benchmarks: ovfast against openvino on the same workload in one run, and against a C loop (the
ceiling, bench/c_ceiling.c) where one exists. Every benchmark in a group does the same work, so the group's
medians compare directly; the summary at the end prints the ratios.

    pytest bench/ --benchmark-group-by=group
"""

import ctypes
import os
import statistics
import subprocess
import sys
import time

import openvino
import pytest

import ovfast

from models import add_model, conv_model  # tests/models.py (pyproject puts tests/ on the path)

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)   # bench modules import each other's helpers (models, the load generator)


@pytest.fixture(scope="session")
def ceiling(tmp_path_factory):
    """bench/c_ceiling.c built against the installed openvino's C API, loaded with ctypes."""
    ov_dir = os.path.dirname(openvino.__file__)
    libs = os.path.join(ov_dir, "libs")
    lib_c = next(f for f in os.listdir(libs) if f.startswith("libopenvino_c.so."))
    out = str(tmp_path_factory.mktemp("ceiling") / "libceiling.so")
    subprocess.run(["gcc", "-O2", "-shared", "-fPIC", "-o", out, os.path.join(HERE, "c_ceiling.c"),
                    "-I", os.path.join(ov_dir, "include"), "-L", libs, f"-l:{lib_c}", f"-Wl,-rpath,{libs}"],
                   check=True)
    lib = ctypes.CDLL(out)
    lib.ceiling_new.restype = ctypes.c_void_p
    lib.ceiling_new.argtypes = [ctypes.c_char_p] * 4 + [ctypes.c_int]
    lib.ceiling_free.argtypes = [ctypes.c_void_p]
    lib.ceiling_sync.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p, ctypes.c_size_t]
    lib.ceiling_round_robin.argtypes = [ctypes.c_void_p, ctypes.c_int64]
    lib.ceiling_frames.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int64]
    return lib


@pytest.fixture(scope="session")
def ov_add():
    """The tiny add model compiled by openvino, default CPU config."""
    return openvino.compile_model(add_model(), "CPU")


@pytest.fixture(scope="session")
def fast_add():
    """The same, compiled by ovfast."""
    return ovfast.compile_model(add_model(), "CPU")


@pytest.fixture(scope="session")
def add_ir(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("models") / "add.xml")
    openvino.save_model(add_model(), path, compress_to_fp16=False)
    return path


@pytest.fixture(scope="session")
def conv_ir(tmp_path_factory):
    """The compute-bound conv net (1x3x224x224) as an IR, for C loops and command-line tools."""
    path = str(tmp_path_factory.mktemp("models") / "conv.xml")
    openvino.save_model(conv_model(), path, compress_to_fp16=False)
    return path


@pytest.fixture
def paired(benchmark):
    """benchmark.pedantic that also runs `c_loop` (untimed by pytest-benchmark) just before each round and
    records the median of the round-by-round ratios C time / our time. A group's medians come from blocks of
    rounds run a minute or more apart on a shared machine whose load drifts by more than the few percent
    between ovfast and the C loop; a ratio taken round by round cancels that drift."""
    def run(target, c_loop, rounds, args=(), warmup_rounds=1, against="the C loop", setup=None):
        """setup (optional): called after the C round, untimed; what it returns is target's (args, kwargs)."""
        c_times = []

        def c_round():
            t = time.perf_counter()
            c_loop()
            c_times.append(time.perf_counter() - t)
            if setup is not None:
                return setup()

        result = benchmark.pedantic(target, args=() if setup else args, setup=c_round, rounds=rounds,
                                    warmup_rounds=warmup_rounds, iterations=1)
        if benchmark.stats is not None:   # None under --benchmark-disable
            pairs = zip(c_times[-rounds:], benchmark.stats.stats.data)
            benchmark.extra_info["paired_c_ratio"] = statistics.median(c / x for c, x in pairs)
            benchmark.extra_info["paired_against"] = against
        return result
    return run


def pytest_terminal_summary(terminalreporter, config):
    session = getattr(config, "_benchmarksession", None)
    if session is None or not session.benchmarks:
        return
    groups, rates = {}, []
    for bench in session.benchmarks:
        if bench.stats is None or bench.extra_info.get("fixed_duration"):  # skipped or failed; a fixed-length
            continue                                                          # round's time says nothing
        name = bench.name.replace("test_", "")
        groups.setdefault(bench.group, {})[name] = bench.stats.median
        if "bytes" in bench.extra_info:
            rates.append(f"[{bench.group}] {name}: {bench.extra_info['bytes'] / bench.stats.median / 1e9:.2f} GB/s "
                         f"of unpacked values")
    terminalreporter.section("ovfast ratios (medians; >1 means ovfast is faster)")
    for group, medians in sorted(groups.items()):
        ours = {k: v for k, v in medians.items() if k.startswith("ovfast")}
        for oname, om in ours.items():
            parts = [f"{oname}: {om * 1e3:.3f} ms"]
            for other, m in medians.items():
                if other.startswith("openvino"):
                    parts.append(f"{m / om:.1f}x openvino ({other})")
                elif other.startswith("c_"):
                    parts.append(f"{m / om:.2f}x the C loop ({other})")
                elif other.startswith(("numpy", "baseline", "python_probe")):
                    parts.append(f"{m / om:.2f}x {other}")
            terminalreporter.write_line(f"[{group}] " + "; ".join(parts))
    for bench in session.benchmarks:
        e = bench.extra_info
        if bench.stats is not None and "paired_c_ratio" in e and not e.get("fixed_duration"):
            name = bench.name.replace("test_", "")
            against = bench.extra_info.get("paired_against", "the C loop")
            how = bench.extra_info.get("paired_how", "a round of it run just before each")
            terminalreporter.write_line(f"[{bench.group}] {name}: {bench.extra_info['paired_c_ratio']:.3f}x {against}, "
                                        f"median of round-by-round ratios ({how})")
    for bench in session.benchmarks:   # several baselines in each round: each one's ratio and median time
        if bench.stats is not None and "paired_ratios" in bench.extra_info:
            seconds = bench.extra_info.get("seconds", {})
            terminalreporter.write_line(f"[{bench.group}] {bench.name.replace('test_', '')} against each, median of "
                                        f"round-by-round time ratios (>1: ovfast faster):")
            for other, ratio in bench.extra_info["paired_ratios"].items():
                median = f" (median {seconds[other]:.2f} s)" if other in seconds else ""
                terminalreporter.write_line(f"    {ratio:.2f}x {other}{median}")
    for bench in session.benchmarks:
        if bench.stats is not None and (bench.extra_info.get("errors") or bench.extra_info.get("wrong")):
            terminalreporter.write_line(f"[{bench.group}] {bench.name.replace('test_', '')}: "
                                        f"{bench.extra_info['errors']} calls raised, {bench.extra_info['wrong']} "
                                        f"returned a wrong answer (all rounds)")
    for bench in session.benchmarks:
        if bench.stats is not None and "timer_p99_ms" in bench.extra_info:
            terminalreporter.write_line(f"[{bench.group}] {bench.name.replace('test_', '')}: a 1 ms timer ran "
                                        f"{bench.extra_info['timer_p99_ms']:.2f} ms late at p99 meanwhile")
    for bench in session.benchmarks:
        if bench.stats is not None and "fps_ratio" in bench.extra_info:
            e = bench.extra_info
            terminalreporter.write_line(f"[{bench.group}] ovfast {e['ovfast_fps']:,.0f} FPS, openvino "
                                        f"{e['openvino_fps']:,.0f} FPS: {e['fps_ratio']:.3f}x openvino, median "
                                        f"of round-by-round ratios")
    for bench in session.benchmarks:
        batches = bench.extra_info.get("batches") if bench.stats is not None else None
        if batches:
            terminalreporter.write_line(
                f"[{bench.group}] {bench.name.replace('test_', '')}: mean batch {batches['mean_batch_size']:.1f}, "
                f"p99 queue wait {batches['wait_p99_us']:.0f} us + p99 inference {batches['inference_p99_us']:.0f} us "
                f"(max_delay_us {batches['max_delay_us']})")
    for line in rates:
        terminalreporter.write_line(line)
    serving = [b for b in session.benchmarks if b.stats is not None and "requests_per_s" in b.extra_info]
    if serving:
        terminalreporter.section("requests/s and latency over HTTP (x: against the baseline app of the same group)")
        terminalreporter.write_line("| cell | server | requests/s | p50 ms | p99 ms | requests/s x | p99 x |")
        terminalreporter.write_line("|---|---|---|---|---|---|---|")
        cells = {}
        for bench in serving:
            cells.setdefault(bench.group, []).append(bench)
        for group, benches in cells.items():
            base = next((b.extra_info for b in benches if b.name.startswith("test_baseline")), None)
            for bench in benches:
                e = bench.extra_info
                rate = f"{e['requests_per_s'] / base['requests_per_s']:.2f}x" if base else ""
                if "paired_c_ratio" in e:
                    rate += f" ({e['paired_c_ratio']:.2f}x paired)"
                versus = f"{rate} | {e['p99_ms'] / base['p99_ms']:.2f}x" if base else " | "
                terminalreporter.write_line(f"| {group} | {bench.name.split('[')[0].replace('test_', '')} | "
                                            f"{e['requests_per_s']:,.0f} | {e['p50_ms']:.2f} | {e['p99_ms']:.2f} | "
                                            f"{versus} |")

"""The job pool driven from C through ovfast's C-level API (tests/cext/ovfast_cdriver.pyx, built as an
embedding library builds it) against bench/c_ceiling.c's bare round robin, on the tiny add model with 16
jobs: the same n inferences on whatever inputs the jobs hold, no Python in either loop."""

import pytest

import ovfast
from cext_build import build_extension, driver_source

N = 100_000
JOBS = 16
GROUP = "C-driven pool x100k, 16 jobs"


@pytest.fixture(scope="module")
def drv(tmp_path_factory):
    return build_extension(str(tmp_path_factory.mktemp("cext")), "ovfast_cdriver", driver_source())


@pytest.fixture(scope="module")
def c_loop(ceiling, add_ir):
    handle = ceiling.ceiling_new(add_ir.encode(), b"CPU", None, None, JOBS)
    assert handle

    def run():
        status = ceiling.ceiling_round_robin(handle, N)
        assert status == 0, f"the C loop failed with status {status}"

    yield run
    ceiling.ceiling_free(handle)


@pytest.fixture(scope="module")
def queue(add_ir):
    return ovfast.AsyncInferQueue(ovfast.compile_model(add_ir, "CPU"), JOBS)


@pytest.mark.benchmark(group=GROUP)
def test_c_round_robin(benchmark, c_loop):
    benchmark.pedantic(c_loop, rounds=9, warmup_rounds=1, iterations=1)


@pytest.mark.benchmark(group=GROUP)
def test_ovfast_c_api_completion_functions(paired, drv, queue, c_loop):
    """Each job's completion function starts it again (no thread hop between runs)."""
    paired(drv.spin, c_loop, args=(queue, N, JOBS, True), rounds=9)


@pytest.mark.benchmark(group=GROUP)
def test_ovfast_c_api_round_robin(paired, drv, queue, c_loop):
    """The C loop's own shape through the API: start every job, job_wait on each in turn, restart it."""
    paired(drv.spin, c_loop, args=(queue, N, JOBS, False), rounds=9)

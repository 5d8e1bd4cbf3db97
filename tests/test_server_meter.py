"""The Offload meter's idle clock, driven without a server or an engine."""

from __future__ import annotations

from labadvisor.contexts import KernelContext
from labadvisor.server.meter import OffloadMeter, ServerContext

OFFLOAD = ServerContext("docker-cloud", "offload", from_config=False, config_path="/none")
LOCAL = ServerContext("default", "local", from_config=False, config_path="/none")
NO_KERNELS: dict[str, KernelContext] = {}


def meter_counting(answers: list[int | None]) -> tuple[OffloadMeter, list[str]]:
    asked: list[str] = []

    def count_running(context: str) -> int | None:
        asked.append(context)
        return answers.pop(0)

    return OffloadMeter(count_running=count_running), asked


def test_idle_from_the_first_sample_that_found_no_container() -> None:
    meter, asked = meter_counting([0, 0, 2, None, 0])
    assert meter.observe(OFFLOAD, NO_KERNELS, now=100).idle_since is None  # not looked yet
    meter.watch_containers(now=160)
    meter.watch_containers(now=220)  # still none: the clock keeps its start
    assert meter.observe(OFFLOAD, NO_KERNELS, now=230).idle_since == 160
    meter.watch_containers(now=280)  # two containers run
    assert meter.observe(OFFLOAD, NO_KERNELS, now=290).idle_since is None
    meter.watch_containers(now=340)  # no answer: what was known stands
    assert meter.observe(OFFLOAD, NO_KERNELS, now=350).idle_since is None
    meter.watch_containers(now=400)
    assert meter.observe(OFFLOAD, NO_KERNELS, now=410).idle_since == 400
    assert asked == ["docker-cloud"] * 5


def test_no_engine_is_asked_and_no_clock_runs_off_offload() -> None:
    meter, asked = meter_counting([0])
    assert meter.observe(LOCAL, NO_KERNELS, now=100).idle_since is None
    meter.watch_containers(now=160)
    assert asked == []
    assert meter.observe(LOCAL, NO_KERNELS, now=170).idle_since is None


def test_leaving_offload_stops_the_clock_and_coming_back_starts_afresh() -> None:
    meter, _ = meter_counting([0, 0])
    meter.observe(OFFLOAD, NO_KERNELS, now=100)
    meter.watch_containers(now=160)
    assert meter.observe(OFFLOAD, NO_KERNELS, now=170).idle_since == 160
    assert meter.observe(LOCAL, NO_KERNELS, now=180).idle_since is None
    assert meter.observe(OFFLOAD, NO_KERNELS, now=190).idle_since is None
    meter.watch_containers(now=250)
    assert meter.observe(OFFLOAD, NO_KERNELS, now=260).idle_since == 250


def test_a_kernel_on_offload_has_its_engine_watched() -> None:
    meter, asked = meter_counting([0])
    own = KernelContext("k1", 4242, "offload-eu", "offload", "tcp://offload:2376", 90.0)
    use = meter.observe(LOCAL, {"k1": own}, now=100)
    assert (use.active, use.context, use.idle_since) == (True, "offload-eu", None)
    meter.watch_containers(now=160)
    assert asked == ["offload-eu"]
    assert meter.observe(LOCAL, {"k1": own}, now=170).idle_since == 160

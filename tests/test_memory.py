"""Model-memory estimates against published figures and hand-computed KV caches, and fits()."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path

import pytest

import labadvisor
from labadvisor.gpu import GpuDevice, GpuReport, MigDevice
from labadvisor.guides import configure, model_facts
from labadvisor.memory import estimate_memory, find_preset, fits, presets


@pytest.fixture(autouse=True)
def packaged_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("LABADVISOR_CONFIG", str(tmp_path / "absent.toml"))
    configure(reset=True)
    yield
    configure(reset=True)


def kv_bytes(layers: int, kv_heads: int, head_dim: int, tokens: int, batch: int, b: float) -> float:
    return 2 * layers * kv_heads * head_dim * tokens * batch * b


# --- weights ---------------------------------------------------------------------------------


def test_seven_billion_parameters_in_fp16_is_14_gb_of_weights() -> None:
    assert estimate_memory(7).weights_gb == pytest.approx(14.0)
    assert estimate_memory(7, dtype="fp32").weights_gb == pytest.approx(28.0)
    assert estimate_memory(7, dtype="bf16").weights_gb == pytest.approx(14.0)
    assert estimate_memory(7, dtype="int8").weights_gb == pytest.approx(7.0)
    assert estimate_memory(7, dtype="int4").weights_gb == pytest.approx(3.5)


def test_int4_halves_int8_and_int8_halves_fp16() -> None:
    for params in (0.124, 6.74, 70):
        int8 = estimate_memory(params, dtype="int8").weights_gb
        assert estimate_memory(params, dtype="int4").weights_gb == pytest.approx(int8 / 2)
        assert estimate_memory(params, dtype="float16").weights_gb == pytest.approx(int8 * 2)


def test_published_checkpoint_sizes() -> None:
    # Llama-2-7b-hf's fp16 safetensors are 13.5 GB; Llama-2-70B needs ~140 GB in fp16;
    # GPT-2 small's fp32 checkpoint is 548 MB (124M params x 4 bytes, 10**6-byte MB).
    assert estimate_memory(preset="llama-2-7b").weights_gb == pytest.approx(13.5, abs=0.05)
    assert 135 < estimate_memory(preset="llama-2-70b").weights_gb < 140
    assert estimate_memory(preset="gpt2", dtype="fp32").weights_gb == pytest.approx(0.5, abs=0.05)
    assert estimate_memory(preset="codellama-34b").weights_gb == pytest.approx(67.5, abs=0.1)


# --- KV cache --------------------------------------------------------------------------------


def test_llama_2_7b_kv_cache_is_half_a_mebibyte_per_token() -> None:
    one = estimate_memory(preset="llama-2-7b", context_tokens=1)
    assert one.kv_cache_gb == pytest.approx(524_288 / 1e9)  # 2 x 32 x 4096 x 2 bytes
    full = estimate_memory(preset="llama-2-7b", context_tokens=4096)
    assert full.kv_cache_gb == pytest.approx(kv_bytes(32, 32, 128, 4096, 1, 2) / 1e9)
    assert full.kv_cache_gb == pytest.approx(2.147483648)


def test_grouped_query_attention_shrinks_the_cache() -> None:
    # Llama-2-70B: 80 layers, 8 KV heads of 128 -> 320 KiB per token in fp16
    seventy = estimate_memory(preset="llama-2-70b", context_tokens=1)
    assert seventy.kv_cache_gb == pytest.approx(327_680 / 1e9)
    # Mistral-7B: 32 layers, 8 KV heads of 128 -> 128 KiB per token
    mistral = estimate_memory(preset="mistral-7b", context_tokens=1)
    assert mistral.kv_cache_gb == pytest.approx(131_072 / 1e9)
    # CodeLlama-34B at its 16k context: 48 x 8 x 128 x 16384 x 2 x 2 bytes
    code = estimate_memory(preset="codellama-34b")
    assert code.context_tokens == 16384
    assert code.kv_cache_gb == pytest.approx(kv_bytes(48, 8, 128, 16384, 1, 2) / 1e9)


def test_kv_cache_scales_with_tokens_and_batch() -> None:
    base = estimate_memory(preset="gpt2-medium", context_tokens=512).kv_cache_gb
    assert base is not None
    assert estimate_memory(preset="gpt2-medium", context_tokens=1024).kv_cache_gb == (
        pytest.approx(2 * base)
    )
    assert estimate_memory(
        preset="gpt2-medium", context_tokens=512, batch_size=8
    ).kv_cache_gb == pytest.approx(8 * base)
    assert base == pytest.approx(kv_bytes(24, 16, 64, 512, 1, 2) / 1e9)


def test_quantised_weights_keep_an_fp16_cache_unless_told() -> None:
    fp16 = estimate_memory(preset="llama-2-13b", context_tokens=2048)
    int4 = estimate_memory(preset="llama-2-13b", context_tokens=2048, dtype="int4")
    fp32 = estimate_memory(preset="llama-2-13b", context_tokens=2048, dtype="fp32")
    q8 = estimate_memory(preset="llama-2-13b", context_tokens=2048, dtype="int4", kv_dtype="int8")
    assert fp16.kv_cache_gb is not None
    assert int4.kv_cache_gb == pytest.approx(fp16.kv_cache_gb)
    assert fp32.kv_cache_gb == pytest.approx(2 * fp16.kv_cache_gb)
    assert q8.kv_cache_gb == pytest.approx(fp16.kv_cache_gb / 2)


def test_own_shape_without_a_preset() -> None:
    est = estimate_memory(1.1, layers=22, hidden_size=2048, attention_heads=32, kv_heads=4,
                          context_tokens=2048)  # fmt: skip
    assert est.kv_cache_gb == pytest.approx(kv_bytes(22, 4, 64, 2048, 1, 2) / 1e9)
    explicit = estimate_memory(3, layers=10, attention_heads=8, head_dim=100, context_tokens=10)
    assert explicit.kv_cache_gb == pytest.approx(kv_bytes(10, 8, 100, 10, 1, 2) / 1e9)


def test_own_shape_overrides_the_preset() -> None:
    est = estimate_memory(preset="llama-2-7b", kv_heads=8, context_tokens=1)
    assert est.kv_cache_gb == pytest.approx(131_072 / 1e9)


def test_without_a_shape_the_kv_cache_is_not_counted_and_says_so() -> None:
    est = estimate_memory(7, context_tokens=4096)
    assert est.kv_cache_gb is None
    assert est.total_gb == pytest.approx(est.weights_gb + est.overhead_gb)
    assert any("architecture is unknown" in a for a in est.assumptions)
    no_tokens = estimate_memory(7, layers=32, hidden_size=4096, attention_heads=32)
    assert no_tokens.kv_cache_gb is None
    assert any("give context_tokens" in a for a in no_tokens.assumptions)


def test_a_preset_without_context_tokens_assumes_its_full_context() -> None:
    est = estimate_memory(preset="llama-2-7b")
    assert est.context_tokens == 4096
    assert any("4096 tokens" in a for a in est.assumptions)
    assert estimate_memory(preset="llama-2-7b", context_tokens=0).kv_cache_gb == 0.0


def test_encoder_only_models_have_no_kv_cache() -> None:
    est = estimate_memory(preset="distilbert-base", context_tokens=512)
    assert est.kv_cache_gb == 0.0
    assert any("encoder-only" in a for a in est.assumptions)


def test_encoder_decoder_caches_self_and_cross_attention() -> None:
    est = estimate_memory(preset="codet5-small", context_tokens=512)
    assert est.kv_cache_gb == pytest.approx(kv_bytes(12, 8, 64, 512, 1, 2) / 1e9)


# --- overhead and total ----------------------------------------------------------------------


def test_overhead_is_cuda_context_plus_a_fraction_of_the_weights() -> None:
    facts = model_facts()
    est = estimate_memory(preset="llama-2-7b", context_tokens=4096)
    expected = facts.cuda_context_gb + facts.activation_fraction * est.weights_gb
    assert est.overhead_gb == pytest.approx(expected)
    assert est.total_gb == pytest.approx(est.weights_gb + 2.147483648 + expected)
    assert estimate_memory(7, overhead_gb=0).total_gb == pytest.approx(14.0)


def test_overhead_constants_can_be_overridden() -> None:
    configure({"models": {"overhead": {"cuda_context_gb": 1.0, "activation_fraction": 0.0}}})
    assert estimate_memory(7).overhead_gb == pytest.approx(1.0)


# --- presets ---------------------------------------------------------------------------------


def test_presets_cover_the_guides_models_and_common_open_models() -> None:
    ids = {p.id for p in presets()}
    guide = {"codet5-small", "gpt2-small", "gpt2-medium", "gpt2-large", "gpt2-xl"}
    guide |= {"distilbert-base", "codellama-34b"}
    assert guide <= ids
    assert {"llama-2-7b", "llama-2-13b", "llama-2-70b", "mistral-7b"} <= ids


def test_every_preset_shape_is_consistent() -> None:
    for preset in presets():
        assert preset.params_b > 0
        assert preset.hidden_size and preset.attention_heads and preset.kv_heads, preset.id
        assert preset.hidden_size % preset.attention_heads == 0, preset.id
        assert preset.attention_heads % preset.kv_heads == 0, preset.id
        assert preset.layers and preset.context_length, preset.id


@pytest.mark.parametrize(
    ("query", "preset_id"),
    [
        ("llama-2-7b", "llama-2-7b"),
        ("Llama 2 7B", "llama-2-7b"),
        ("meta-llama/Llama-2-7b-hf", "llama-2-7b"),
        ("Llama-2-7b-hf", "llama-2-7b"),
        ("gpt2", "gpt2-small"),
        ("GPT-2 XL", "gpt2-xl"),
        ("CodeLlama-34B", "codellama-34b"),
        ("distilbert-base-uncased", "distilbert-base"),
    ],
)
def test_preset_lookup_is_forgiving(query: str, preset_id: str) -> None:
    assert find_preset(query).id == preset_id


def test_users_can_add_a_preset() -> None:
    mine = {
        "id": "my-3b",
        "name": "My 3B",
        "params_b": 3.0,
        "layers": 26,
        "hidden_size": 3072,
        "attention_heads": 24,
        "kv_heads": 8,
        "context_length": 4096,
    }
    configure({"models": {"presets": [mine]}})
    est = estimate_memory(preset="My 3B", context_tokens=100)
    assert est.preset == "my-3b" and est.weights_gb == pytest.approx(6.0)
    assert est.kv_cache_gb == pytest.approx(kv_bytes(26, 8, 128, 100, 1, 2) / 1e9)


def test_a_bad_user_preset_is_named() -> None:
    # Checked when configured (not when first used), naming the preset's setting path.
    with pytest.raises(ValueError, match=r"presets\[broken\]\.params_b .*-3\.0"):
        configure({"models": {"presets": [{"id": "broken", "params_b": -3.0}]}})
    assert estimate_memory(preset="llama-2-7b").preset == "llama-2-7b"


def test_params_b_with_a_preset_replaces_the_count_and_says_so() -> None:
    est = estimate_memory(7.0, preset="llama-2-7b", context_tokens=1)
    assert est.weights_gb == pytest.approx(14.0)
    assert est.kv_cache_gb == pytest.approx(524_288 / 1e9)
    assert any("replaces" in a for a in est.assumptions)


# --- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [-1, 0, float("nan"), float("inf"), "7", True])
def test_bad_params_b_is_named(bad: object) -> None:
    with pytest.raises(ValueError, match=r"params_b must be .*greater than 0") as info:
        estimate_memory(bad)  # type: ignore[arg-type]
    assert repr(bad) in str(info.value)


def test_unknown_preset_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="unknown preset 'llama-9b'") as info:
        estimate_memory(preset="llama-9b")
    assert "llama-2-7b" in str(info.value) and "codet5-small" in str(info.value)


def test_unknown_dtype_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="unknown dtype 'fp8'") as info:
        estimate_memory(7, dtype="fp8")
    assert "int4" in str(info.value) and "bf16" in str(info.value)
    with pytest.raises(ValueError, match="unknown dtype 'int2'"):
        estimate_memory(preset="llama-2-7b", kv_dtype="int2")


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"batch_size": 0}, "batch_size must be a whole number of at least 1, got 0"),
        ({"batch_size": 1.5}, "batch_size .* got 1.5"),
        ({"context_tokens": -1}, "context_tokens must be a whole number of at least 0, got -1"),
        ({"layers": 0}, "layers .* got 0"),
        ({"hidden_size": 4000, "attention_heads": 3}, "not a multiple of attention_heads 3"),
        ({"overhead_gb": -1}, "overhead_gb must be at least 0"),
    ],
)
def test_bad_options_are_named(kwargs: dict[str, object], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        estimate_memory(7, context_tokens=kwargs.pop("context_tokens", 10), **kwargs)  # type: ignore[arg-type]


def test_nothing_to_estimate_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"give params_b .* or preset; valid presets: .*gpt2-xl"):
        estimate_memory()


# --- fits ------------------------------------------------------------------------------------

L4_BYTES = 23034 * 1024**2


def l4_device(
    free: int | None = L4_BYTES - 300 * 1024**2, total: int | None = L4_BYTES
) -> GpuDevice:
    return GpuDevice(index=0, name="NVIDIA L4", memory_total=total, memory_free=free)


def test_fits_a_size_in_gb_with_the_margin() -> None:
    est = estimate_memory(7, overhead_gb=0)
    fit = fits(est, 23)
    assert fit and fit.margin_gb == pytest.approx(9.0) and fit.basis == "given size"
    tight = fits(est, "13GB")
    assert not tight and tight.margin_gb == pytest.approx(-1.0)
    assert "1.0 GB short" in tight.reason


def test_codellama_34b_on_the_offload_l4() -> None:
    assert not fits(estimate_memory(preset="codellama-34b"), 23)
    assert fits(estimate_memory(preset="codellama-34b", dtype="int4", context_tokens=4096), 23)


def test_fits_a_device_on_its_free_memory() -> None:
    device = l4_device()
    est = estimate_memory(preset="llama-2-7b", context_tokens=2048)
    fit = fits(est, device)
    assert device.memory_free is not None
    assert fit.fits and fit.basis == "free memory"
    assert fit.available_gb == pytest.approx(device.memory_free / 1e9)
    assert fit.margin_gb == pytest.approx(device.memory_free / 1e9 - est.total_gb)
    assert "NVIDIA L4 (GPU 0)" in fit.reason and "to spare" in fit.reason


def test_fits_falls_back_to_total_memory() -> None:
    fit = fits(3.0, l4_device(free=None))
    assert fit.basis == "total memory" and fit.available_gb == pytest.approx(L4_BYTES / 1e9)
    unknown = fits(3.0, l4_device(free=None, total=None))
    assert not unknown and unknown.margin_gb is None


def test_fits_a_report_uses_its_best_device() -> None:
    mig = MigDevice(index=1, parent_index=0, name="A100 MIG 3g.20gb", memory_total=20 * 10**9,
                    memory_free=19 * 10**9)  # fmt: skip
    report = GpuReport(
        status="ok",
        message="two",
        devices=(
            GpuDevice(index=0, name="A100", mig_mode=True, mig_devices=(mig,)),
            GpuDevice(index=1, name="T4", memory_total=16 * 10**9, memory_free=15 * 10**9),
        ),
    )
    fit = fits(18.0, report)
    assert fit.fits and fit.device == "A100 MIG 3g.20gb (GPU 0 MIG 1)"
    assert fit.margin_gb == pytest.approx(1.0)


def test_fits_a_report_without_a_gpu() -> None:
    report = GpuReport(status="library-not-found", message="no driver here")
    fit = fits(estimate_memory(preset="gpt2"), report)
    assert not fit and fit.available_gb is None and "no driver here" in fit.reason


def test_headroom() -> None:
    assert fits(10.0, 12, headroom_gb=2.0)
    short = fits(10.0, 12, headroom_gb=2.5)
    assert not short and "2.5 GB headroom" in short.reason


def test_fits_rejects_what_it_cannot_read() -> None:
    with pytest.raises(ValueError, match="device_or_report must be"):
        fits(1.0, object())
    with pytest.raises(ValueError, match="estimate"):
        fits(-1.0, 10)
    with pytest.raises(ValueError, match="headroom_gb"):
        fits(1.0, 10, headroom_gb=math.nan)


def test_public_names_and_views() -> None:
    est = labadvisor.estimate_memory(preset="llama-2-7b", dtype="half", context_tokens=4096)
    assert est.dtype == "fp16"
    data = json.loads(json.dumps(est.to_dict()))
    assert data["kv_cache_gb"] == pytest.approx(2.147483648)
    assert str(est).startswith("Llama-2-7B in fp16: 17.5 GB (weights 13.48 + KV cache 2.15")
    assert "<table>" in est._repr_html_()
    fit = labadvisor.fits(est, 23)
    assert json.loads(json.dumps(fit.to_dict()))["fits"] is True
    assert str(fit) == fit.reason

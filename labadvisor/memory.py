"""Will a model fit? Inference memory as weights + KV cache + runtime overhead, in GB.

GB means 10**9 bytes here, as in the rest of labadvisor and in most published model sizes
("7B parameters in fp16 take 14 GB"). The figures and presets live in ``data/models.toml``
and can be overridden or extended through :func:`labadvisor.configure`.

The KV cache holds a key and a value vector per token, per layer, per KV head::

    2 x layers x kv_heads x head_dim x tokens x batch x bytes per value
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from labadvisor.guides import model_facts
from labadvisor.model_facts import Kind, ModelFacts, Preset
from labadvisor.units import check_finite_number, parse_size_gb

__all__ = ["Fit", "MemoryEstimate", "Preset", "estimate_memory", "find_preset", "fits", "presets"]


@dataclass(frozen=True)
class MemoryEstimate:
    """What one model needs on a GPU for inference. ``kv_cache_gb`` is None when the
    architecture or the context is unknown; ``total_gb`` then covers the rest only."""

    name: str
    params_b: float
    dtype: str
    weights_gb: float
    kv_cache_gb: float | None
    overhead_gb: float
    total_gb: float
    context_tokens: int | None
    batch_size: int
    preset: str | None = None
    assumptions: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["assumptions"] = list(self.assumptions)
        return data

    def __str__(self) -> str:
        kv = "not counted" if self.kv_cache_gb is None else f"{self.kv_cache_gb:.2f}"
        lines = [
            f"{self.name} in {self.dtype}: {self.total_gb:.1f} GB "
            f"(weights {self.weights_gb:.2f} + KV cache {kv} + overhead {self.overhead_gb:.2f})"
        ]
        lines.extend(f"  assumption: {a}" for a in self.assumptions)
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        kv = "not counted" if self.kv_cache_gb is None else f"{self.kv_cache_gb:.2f} GB"
        rows = [
            ("Weights", f"{self.weights_gb:.2f} GB"),
            ("KV cache", kv),
            ("Runtime overhead", f"{self.overhead_gb:.2f} GB"),
            ("Total", f"<strong>{self.total_gb:.2f} GB</strong>"),
        ]
        body = "".join(f"<tr><td>{label}</td><td>{value}</td></tr>" for label, value in rows)
        notes = "".join(f"<li>{html.escape(a)}</li>" for a in self.assumptions)
        title = html.escape(f"{self.name} in {self.dtype}")
        return (
            f"<div><strong>{title}</strong><table>{body}</table>"
            + (f"<ul>{notes}</ul>" if notes else "")
            + "</div>"
        )


@dataclass(frozen=True)
class Fit:
    """The answer of :func:`fits`; true in a boolean context when the model fits."""

    fits: bool
    needed_gb: float
    available_gb: float | None
    margin_gb: float | None  # available minus needed; negative when it does not fit
    device: str
    basis: str  # "free memory", "total memory" (free unknown) or "given size"
    reason: str

    def __bool__(self) -> bool:
        return self.fits

    def __str__(self) -> str:
        return self.reason

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def presets() -> list[Preset]:
    """Every model preset, packaged ones first, then the user's."""
    return list(model_facts().presets)


def find_preset(query: str) -> Preset:
    """The preset whose id, name or Hugging Face id is ``query`` (case and -/_/space blind)."""
    if not isinstance(query, str):
        raise ValueError(f"preset must be a name such as 'llama-2-7b', got {query!r}")
    known = presets()
    for preset in known:
        if preset.matches(query):
            return preset
    raise ValueError(f"unknown preset {query!r}; valid presets: {', '.join(p.id for p in known)}")


def estimate_memory(
    params_b: float | None = None,
    *,
    dtype: str = "fp16",
    context_tokens: int | None = None,
    batch_size: int = 1,
    preset: str | None = None,
    layers: int | None = None,
    hidden_size: int | None = None,
    attention_heads: int | None = None,
    kv_heads: int | None = None,
    head_dim: int | None = None,
    kv_dtype: str | None = None,
    overhead_gb: float | None = None,
) -> MemoryEstimate:
    """Memory to run a model for inference: weights, KV cache and runtime overhead.

    Give ``params_b`` (billions of parameters), a ``preset`` ("llama-2-7b",
    "codellama/CodeLlama-34b-hf", ...), or both (``params_b`` then wins). The KV cache is
    counted when the shape is known, from the preset or from ``layers`` (layers that keep
    a KV cache), ``hidden_size``, ``attention_heads``, and optionally ``kv_heads`` (fewer
    than ``attention_heads`` for grouped-query attention) and ``head_dim``. Without
    ``context_tokens`` a preset's full trained context is assumed. ``kv_dtype`` defaults to
    the weights' dtype but never below fp16 (quantised weights keep an fp16 cache).
    ``overhead_gb`` replaces the CUDA-context-plus-activations estimate.

    Raises ValueError naming the bad value and the valid ones.
    """
    facts = model_facts()
    notes: list[str] = []
    chosen = find_preset(preset) if preset is not None else None
    if params_b is None and chosen is None:
        raise ValueError(
            "give params_b (billions of parameters) or preset; valid presets: "
            + ", ".join(p.id for p in presets())
        )
    if params_b is not None:
        params = check_finite_number(params_b, "params_b", minimum=0, strict_minimum=True)
        if chosen is not None and params != chosen.params_b:
            notes.append(f"params_b={params:g} replaces {chosen.name}'s {chosen.params_b:g}B")
    else:
        assert chosen is not None
        params = chosen.params_b
    dtype_name = facts.canonical_dtype(dtype)
    weight_bytes = facts.dtypes[dtype_name]
    batch = _positive_int(batch_size, "batch_size")

    shape = {
        "layers": _optional_positive_int(layers, "layers"),
        "hidden_size": _optional_positive_int(hidden_size, "hidden_size"),
        "attention_heads": _optional_positive_int(attention_heads, "attention_heads"),
        "kv_heads": _optional_positive_int(kv_heads, "kv_heads"),
        "head_dim": _optional_positive_int(head_dim, "head_dim"),
    }
    if chosen is not None:
        for key in ("layers", "hidden_size", "attention_heads", "kv_heads"):
            if shape[key] is None:
                shape[key] = getattr(chosen, key)
    kind: Kind = chosen.kind if chosen is not None else "decoder"

    if context_tokens is None:
        tokens = None
        if chosen is not None and chosen.context_length is not None and kind != "encoder":
            tokens = chosen.context_length
            notes.append(f"context_tokens not given: assumed {chosen.name}'s full {tokens} tokens")
    else:
        tokens = _non_negative_int(context_tokens, "context_tokens")

    weights_gb = params * weight_bytes  # 1e9 parameters x bytes = GB
    kv_gb = _kv_cache_gb(kind, shape, tokens, batch, weight_bytes, kv_dtype, facts, notes)
    if overhead_gb is None:
        runtime_gb = facts.cuda_context_gb + facts.activation_fraction * weights_gb
    else:
        runtime_gb = check_finite_number(overhead_gb, "overhead_gb", minimum=0)
    total = weights_gb + (kv_gb or 0.0) + runtime_gb
    name = chosen.name if chosen is not None else f"{params:g}B-parameter model"
    return MemoryEstimate(
        name=name,
        params_b=params,
        dtype=dtype_name,
        weights_gb=weights_gb,
        kv_cache_gb=kv_gb,
        overhead_gb=runtime_gb,
        total_gb=total,
        context_tokens=tokens,
        batch_size=batch,
        preset=chosen.id if chosen is not None else None,
        assumptions=tuple(notes),
    )


def fits(
    estimate: MemoryEstimate | float | str, device_or_report: Any, *, headroom_gb: float = 0.0
) -> Fit:
    """Whether ``estimate`` fits, and by how much.

    ``device_or_report`` is a :class:`~labadvisor.gpu.GpuReport` (its best device is
    checked), a GPU or MIG device from one (its free memory, else its total), or a size in
    GB or a string such as ``"24GB"`` (e.g. the Offload L4). ``estimate`` may also be a
    size. It fits when the margin is at least ``headroom_gb``.
    """
    if isinstance(estimate, MemoryEstimate):
        needed, what = estimate.total_gb, f"{estimate.name} ({estimate.dtype})"
    else:
        needed, what = parse_size_gb(estimate, "estimate"), "the model"
    headroom = check_finite_number(headroom_gb, "headroom_gb", minimum=0)
    target = device_or_report
    if hasattr(target, "best_device") and callable(target.best_device):
        best = target.best_device()
        if best is None:
            reason = f"{what} needs {needed:.1f} GB; no usable GPU: {target.message}"
            return Fit(False, needed, None, None, "no GPU", "none", reason)
        target = best
    if hasattr(target, "memory_free") and hasattr(target, "memory_total"):
        free, total = target.memory_free, target.memory_total
        label = getattr(target, "label", None)
        device = f"{target.name} ({label})" if label else str(target.name)
        if free is not None:
            available, basis = free / 1e9, "free memory"
        elif total is not None:
            available, basis = total / 1e9, "total memory"
        else:
            reason = f"{what} needs {needed:.1f} GB; {device} does not report its memory"
            return Fit(False, needed, None, None, device, "none", reason)
    elif isinstance(target, (int, float, str)) and not isinstance(target, bool):
        available, basis = parse_size_gb(target, "device memory"), "given size"
        device = f"{available:g} GB"
    else:
        raise ValueError(
            "device_or_report must be a GpuReport, a GPU or MIG device, or a size in GB, "
            f"got {device_or_report!r}"
        )
    margin = available - needed
    ok = margin >= headroom
    has = "has" if basis != "given size" else "holds"
    amount = "free" if basis == "free memory" else "in total"
    verdict = f"fits with {margin:.1f} GB to spare" if ok else _short(margin, headroom)
    reason = f"{what} needs {needed:.1f} GB; {device} {has} {available:.1f} GB {amount}: {verdict}"
    if basis == "given size":
        reason = f"{what} needs {needed:.1f} GB of {available:g} GB: {verdict}"
    return Fit(ok, needed, available, margin, device, basis, reason)


def _short(margin: float, headroom: float) -> str:
    if margin < 0:
        return f"does not fit, {-margin:.1f} GB short"
    return f"does not fit with {headroom:g} GB headroom (only {margin:.1f} GB spare)"


def _kv_cache_gb(
    kind: Kind,
    shape: Mapping[str, int | None],
    tokens: int | None,
    batch: int,
    weight_bytes: float,
    kv_dtype: str | None,
    facts: ModelFacts,
    notes: list[str],
) -> float | None:
    if kind == "encoder":
        notes.append("encoder-only model: no KV cache at inference")
        return 0.0
    layers, heads, hidden = shape["layers"], shape["attention_heads"], shape["hidden_size"]
    head_dim = shape["head_dim"]
    if head_dim is None and hidden is not None and heads is not None:
        if hidden % heads:
            raise ValueError(
                f"hidden_size {hidden} is not a multiple of attention_heads {heads}; "
                "give head_dim explicitly"
            )
        head_dim = hidden // heads
    kv_heads = shape["kv_heads"] if shape["kv_heads"] is not None else heads
    if layers is None or head_dim is None or kv_heads is None:
        notes.append(
            "KV cache not counted: the architecture is unknown (give preset=, or layers, "
            "hidden_size and attention_heads)"
        )
        return None
    if tokens is None:
        notes.append("KV cache not counted: give context_tokens")
        return None
    if kv_dtype is None:
        value_bytes = max(weight_bytes, facts.kv_min_bytes_per_value)
    else:
        value_bytes = facts.bytes_per_parameter(kv_dtype)
    return 2 * layers * kv_heads * head_dim * tokens * batch * value_bytes / 1e9


def _positive_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{what} must be a whole number of at least 1, got {value!r}")
    return value


def _non_negative_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{what} must be a whole number of at least 0, got {value!r}")
    return value


def _optional_positive_int(value: object, what: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    return _positive_int(value, what)

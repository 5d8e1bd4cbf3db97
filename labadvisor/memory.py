"""Will a model fit? The memory a model needs on a GPU, in GB, for inference or fine-tuning.

GB means 10**9 bytes here, as in the rest of labadvisor and in most published model sizes
("7B parameters in fp16 take 14 GB"). The figures and presets live in ``data/models.toml``
and can be overridden or extended through :func:`labadvisor.configure`. This is the one
memory model: ``advise_runtime`` checks every fit (local GPU, Offload's L4) against it.

Inference (``task="inference"``)::

    weights + KV cache + overhead
    weights  = parameters x bytes per parameter of the dtype
    KV cache = 2 x layers x kv_heads x head_dim x tokens x batch x bytes per value
    overhead = CUDA context (0.5 GB) + 10 % of the weights (activations, temporaries)

Fine-tuning adds what training keeps (``training_state_gb``) and the activations kept for
the backward pass (``activations_gb``), and has no KV cache:

- ``"full-finetune"``: weights, gradients and Adam's moments, 16 bytes per parameter in
  mixed precision (fp16 weights 2 + gradients 2 + fp32 master copy 4 + two fp32 moments
  8; ZeRO, Rajbhandari et al. 2020, section 3.1), so ``training_state`` = 16 bytes minus
  the weights' own bytes, per parameter. Only fp32, fp16 and bf16 weights can be trained.
- ``"lora"``: frozen weights in their dtype, plus adapters of rank 16 on the q, k, v and o
  projections, ``rank x 2 x hidden x 4 x layers`` parameters (Hu et al. 2021), each with
  16 bytes of fp32 weight, gradient and Adam moments.
- ``"qlora"``: as LoRA, with the frozen base in 4-bit NormalFloat with double-quantised
  constants, 0.516 bytes per parameter (Dettmers et al. 2023, section 3).
- Activations, with gradient checkpointing (the QLoRA and PEFT recipes' default): every
  layer's 16-bit input, ``2 x tokens x batch x hidden`` bytes per layer, plus one layer's
  full activations while it is recomputed, ``34 x tokens x batch x hidden`` bytes
  (Korthikanti et al. 2022, section 4.1, without the attention-matrix term that
  FlashAttention does not store).

With only a model size (``model_size_gb``), the weights are that size, the parameter count
follows from the dtype, and the shape-dependent parts (KV cache, activations) are not
counted; the estimate's ``assumptions`` say so.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

from labadvisor.guides import model_facts
from labadvisor.model_facts import Kind, ModelFacts, Preset
from labadvisor.units import check_finite_number, normalize_name, parse_size_gb

__all__ = [
    "TASKS",
    "Fit",
    "MemoryEstimate",
    "Preset",
    "estimate_memory",
    "find_preset",
    "fits",
    "presets",
    "resolve_task",
]

Task = Literal["inference", "lora", "qlora", "full-finetune"]
TASKS: tuple[Task, ...] = ("inference", "lora", "qlora", "full-finetune")
_TASK_ALIASES: dict[str, Task] = {
    "full-fine-tune": "full-finetune",
    "full": "full-finetune",
    "finetune": "full-finetune",
    "fine-tune": "full-finetune",
    "full-finetuning": "full-finetune",
}
# Weights a full fine-tune can train (quantised ones are trained through adapters).
_TRAINABLE_DTYPES = ("fp32", "fp16", "bf16")


@dataclass(frozen=True)
class MemoryEstimate:
    """What one model needs on a GPU for ``task``. ``kv_cache_gb`` (inference) and
    ``activations_gb`` (training) are None when the architecture or the context is unknown;
    ``total_gb`` then covers the rest only, and ``assumptions`` say so."""

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
    task: Task = "inference"
    # Parameters trained: all of them (full fine-tune), the adapters' (LoRA) or none.
    trainable_params_b: float = 0.0
    # Gradients, optimizer moments and master weights (full) or the adapters with theirs.
    training_state_gb: float = 0.0
    activations_gb: float | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["assumptions"] = list(self.assumptions)
        return data

    def _parts(self) -> list[tuple[str, str]]:
        """(label, GB as text) of each part the total adds up."""
        parts = [("weights", f"{self.weights_gb:.2f}")]
        if self.task == "inference":
            kv = "not counted" if self.kv_cache_gb is None else f"{self.kv_cache_gb:.2f}"
            parts.append(("KV cache", kv))
        else:
            state = "gradients + optimizer" if self.task == "full-finetune" else "adapters"
            parts.append((state, f"{self.training_state_gb:.2f}"))
            acts = "not counted" if self.activations_gb is None else f"{self.activations_gb:.2f}"
            parts.append(("activations", acts))
        parts.append(("overhead", f"{self.overhead_gb:.2f}"))
        return parts

    @property
    def task_text(self) -> str:
        return "" if self.task == "inference" else f", {self.task}"

    def __str__(self) -> str:
        parts = " + ".join(f"{label} {value}" for label, value in self._parts())
        lines = [f"{self.name} in {self.dtype}{self.task_text}: {self.total_gb:.1f} GB ({parts})"]
        lines.extend(f"  assumption: {a}" for a in self.assumptions)
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = [
            (_HTML_LABELS.get(label, label), value if value == "not counted" else f"{value} GB")
            for label, value in self._parts()
        ]
        rows.append(("Total", f"<strong>{self.total_gb:.2f} GB</strong>"))
        body = "".join(f"<tr><td>{label}</td><td>{value}</td></tr>" for label, value in rows)
        notes = "".join(f"<li>{html.escape(a)}</li>" for a in self.assumptions)
        title = html.escape(f"{self.name} in {self.dtype}{self.task_text}")
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
    model_size_gb: float | str | None = None,
    dtype: str = "fp16",
    context_tokens: int | None = None,
    batch_size: int = 1,
    preset: str | None = None,
    task: str = "inference",
    layers: int | None = None,
    hidden_size: int | None = None,
    attention_heads: int | None = None,
    kv_heads: int | None = None,
    head_dim: int | None = None,
    kv_dtype: str | None = None,
    overhead_gb: float | None = None,
) -> MemoryEstimate:
    """Memory to run (``task="inference"``) or fine-tune (``"lora"``, ``"qlora"``,
    ``"full-finetune"``) a model: see the module docstring for each formula and its source.

    Give the model as ``params_b`` (billions of parameters), a ``preset`` ("llama-2-7b",
    "codellama/CodeLlama-34b-hf", ...; with ``params_b`` too, ``params_b`` wins), or
    ``model_size_gb``, the weights' size in ``dtype`` (not with ``params_b`` or ``preset``).
    The KV cache and training activations are counted when the shape is known, from the
    preset or from ``layers`` (layers that keep a KV cache), ``hidden_size``,
    ``attention_heads``, and optionally ``kv_heads`` (fewer than ``attention_heads`` for
    grouped-query attention) and ``head_dim``. Without ``context_tokens`` a preset's full
    trained context is assumed. ``kv_dtype`` defaults to the weights' dtype but never below
    fp16 (quantised weights keep an fp16 cache). ``overhead_gb`` replaces the
    CUDA-context-plus-temporaries estimate.

    Raises ValueError naming the bad value and the valid ones, also for inputs whose
    requirement would be infinite.
    """
    facts = model_facts()
    notes: list[str] = []
    job = resolve_task(task)
    # The dtype is checked first: a size means nothing without it.
    dtype_name = facts.canonical_dtype(dtype)
    chosen = find_preset(preset) if preset is not None else None
    size: float | None = None
    if model_size_gb is not None:
        if params_b is not None or chosen is not None:
            given = "params_b" if params_b is not None else "preset"
            raise ValueError(
                f"give the model as model_size_gb, params_b or preset, not model_size_gb "
                f"together with {given} (got model_size_gb={model_size_gb!r}, "
                f"{given}={params_b if params_b is not None else preset!r})"
            )
        size = parse_size_gb(model_size_gb, "model_size_gb")
    elif params_b is None and chosen is None:
        raise ValueError(
            "give params_b (billions of parameters), model_size_gb or preset; valid presets: "
            + ", ".join(p.id for p in presets())
        )
    if job == "full-finetune" and dtype_name not in _TRAINABLE_DTYPES:
        raise ValueError(
            f"task 'full-finetune' trains the weights themselves, in "
            f"{', '.join(_TRAINABLE_DTYPES)}; got dtype {dtype!r}. For an int8 or int4 base "
            "use task='lora' or task='qlora'"
        )
    weight_bytes = facts.dtypes[dtype_name]
    if size is not None:
        params = size / weight_bytes
        notes.append(
            f"model given by its size: {size:g} GB in {dtype_name} is {params:.3g}B parameters; "
            "the architecture is unknown"
        )
    elif params_b is not None:
        params = check_finite_number(params_b, "params_b", minimum=0, strict_minimum=True)
        if chosen is not None and params != chosen.params_b:
            notes.append(f"params_b={params:g} replaces {chosen.name}'s {chosen.params_b:g}B")
    else:
        assert chosen is not None
        params = chosen.params_b
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

    stored_dtype = dtype_name
    if job == "qlora":
        weight_bytes = facts.training.qlora_bytes_per_param
        stored_dtype = "int4"
        notes.append(
            "QLoRA keeps the frozen base in 4-bit NormalFloat "
            f"({weight_bytes:g} bytes per parameter with its constants)"
        )
    try:
        weights_gb = params * weight_bytes  # 1e9 parameters x bytes = GB
        kv_gb: float | None = 0.0
        trainable = 0.0
        state_gb = 0.0
        activations: float | None = None
        if job == "inference":
            kv_gb = _kv_cache_gb(
                kind, shape, tokens, batch, facts.dtypes[dtype_name], kv_dtype, facts, notes
            )
        else:
            trainable, state_gb = _training_state(job, params, weight_bytes, shape, facts, notes)
            activations = _activations_gb(shape, tokens, batch, facts, notes)
        if overhead_gb is None:
            runtime_gb = facts.cuda_context_gb + facts.activation_fraction * weights_gb
        else:
            runtime_gb = check_finite_number(overhead_gb, "overhead_gb", minimum=0)
        total = weights_gb + (kv_gb or 0.0) + state_gb + (activations or 0.0) + runtime_gb
    except OverflowError:
        total = math.inf
    if not math.isfinite(total):
        raise ValueError(
            "these inputs need more memory than a number can hold (params_b, model_size_gb, "
            f"context_tokens or batch_size too large): params_b={params!r}, "
            f"context_tokens={context_tokens!r}, batch_size={batch_size!r}"
        )
    if size is not None:
        name = f"{size:g} GB model"
    else:
        name = chosen.name if chosen is not None else f"{params:g}B-parameter model"
    return MemoryEstimate(
        name=name,
        params_b=params,
        dtype=stored_dtype,
        weights_gb=weights_gb,
        kv_cache_gb=kv_gb,
        overhead_gb=runtime_gb,
        total_gb=total,
        context_tokens=tokens,
        batch_size=batch,
        preset=chosen.id if chosen is not None else None,
        assumptions=tuple(notes),
        task=job,
        trainable_params_b=trainable,
        training_state_gb=state_gb,
        activations_gb=activations,
    )


def resolve_task(task: object) -> Task:
    """'inference', 'lora', 'qlora' or 'full-finetune' (also 'full fine-tune', 'finetune')."""
    if isinstance(task, str):
        key = normalize_name(task)
        key = _TASK_ALIASES.get(key, key)
        for name in TASKS:
            if key == name:
                return name
    raise ValueError(f"unknown task {task!r}; valid tasks: {', '.join(TASKS)}")


def _training_state(
    job: Task,
    params: float,
    weight_bytes: float,
    shape: Mapping[str, int | None],
    facts: ModelFacts,
    notes: list[str],
) -> tuple[float, float]:
    """(trainable parameters in billions, GB of gradients + optimizer state + master or
    adapter weights) for a fine-tuning ``job``."""
    training = facts.training
    if job == "full-finetune":
        per_param = max(training.full_bytes_per_param - weight_bytes, 0.0)
        return params, params * per_param
    layers, hidden = shape["layers"], shape["hidden_size"]
    if layers is not None and hidden is not None:
        trainable = (
            training.lora_rank * 2 * hidden * training.lora_matrices_per_layer * layers / 1e9
        )
    else:
        trainable = params * training.lora_fraction_without_shape
        notes.append(
            "LoRA adapters taken as "
            f"{100 * training.lora_fraction_without_shape:g} % of the parameters "
            "(the architecture is unknown)"
        )
    return trainable, trainable * training.adapter_bytes_per_param


def _activations_gb(
    shape: Mapping[str, int | None],
    tokens: int | None,
    batch: int,
    facts: ModelFacts,
    notes: list[str],
) -> float | None:
    layers, hidden = shape["layers"], shape["hidden_size"]
    if layers is None or hidden is None:
        notes.append(
            "training activations not counted: the architecture is unknown (give preset=, "
            "or layers and hidden_size)"
        )
        return None
    if tokens is None:
        notes.append("training activations not counted: give context_tokens (sequence length)")
        return None
    training = facts.training
    per_token = float(tokens) * batch * hidden
    kept = layers * training.checkpoint_bytes_per_token_hidden * per_token
    recomputed = training.layer_bytes_per_token_hidden * per_token
    notes.append("training activations assume gradient checkpointing")
    return (kept + recomputed) / 1e9


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


_HTML_LABELS = {"weights": "Weights", "overhead": "Runtime overhead"}


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
    return 2.0 * layers * kv_heads * head_dim * float(tokens) * batch * value_bytes / 1e9


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

"""Model-memory facts (``models.toml``) as typed, checked records: dtypes, overheads, presets.

Unlike the two guides, the preset list accepts new entries from users; each one is
checked like a packaged one when the data is loaded or configured.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from labadvisor.records import Table, unique
from labadvisor.units import normalize_name

Kind = Literal["decoder", "encoder-decoder", "encoder"]
KINDS: tuple[Kind, ...] = ("decoder", "encoder-decoder", "encoder")


@dataclass(frozen=True)
class Preset:
    """A model's public size and attention shape (one ``[[presets]]`` entry)."""

    id: str
    name: str
    params_b: float
    kind: Kind = "decoder"
    layers: int | None = None
    hidden_size: int | None = None
    attention_heads: int | None = None
    kv_heads: int | None = None
    context_length: int | None = None
    hf_id: str | None = None

    def matches(self, query: str) -> bool:
        wanted = normalize_name(query)
        keys = {self.id, self.name}
        if self.hf_id:
            keys |= {self.hf_id, self.hf_id.rsplit("/", 1)[-1]}
        return wanted in {normalize_name(k) for k in keys}


@dataclass(frozen=True)
class TrainingFacts:
    """Per-parameter and per-activation figures for fine-tuning (``[training]``)."""

    full_bytes_per_param: float
    adapter_bytes_per_param: float
    lora_rank: int
    lora_matrices_per_layer: int
    lora_fraction_without_shape: float
    qlora_bytes_per_param: float
    checkpoint_bytes_per_token_hidden: float
    layer_bytes_per_token_hidden: float


@dataclass(frozen=True)
class ModelFacts:
    # Bytes one parameter takes in each storage type, and other names for those types.
    dtypes: Mapping[str, float]
    dtype_aliases: Mapping[str, str]
    # Taken on every GPU whatever the model (CUDA context and library workspaces).
    cuda_context_gb: float
    # Activations, temporaries and fragmentation, as a fraction of the weights.
    activation_fraction: float
    # Quantised weights keep an fp16 KV cache unless told otherwise.
    kv_min_bytes_per_value: float
    training: TrainingFacts
    presets: tuple[Preset, ...]

    def dtype_names(self) -> list[str]:
        """Every dtype name accepted: canonical names first, then aliases."""
        return [*self.dtypes, *self.dtype_aliases]

    def canonical_dtype(self, dtype: object) -> str:
        """'half' -> 'fp16'; ValueError naming the valid dtypes for anything unknown."""
        if isinstance(dtype, str):
            key = dtype.strip().lower()
            key = self.dtype_aliases.get(key, key)
            if key in self.dtypes:
                return key
            raise ValueError(
                f"unknown dtype {dtype!r}; valid dtypes: {', '.join(self.dtype_names())}"
            )
        raise ValueError(f"dtype must be one of {', '.join(self.dtypes)}, got {dtype!r}")

    def bytes_per_parameter(self, dtype: object) -> float:
        return self.dtypes[self.canonical_dtype(dtype)]


def build(raw: Mapping[str, Any], path: str) -> ModelFacts:
    """Check the merged data set ``raw`` (named ``path`` in errors) and build the facts."""
    top = Table(raw, path)
    dtypes = top.number_map("dtypes", above=0)
    aliases = top.string_map("dtype_aliases")
    for alias, target in aliases.items():
        if target not in dtypes:
            raise ValueError(
                f"{top.where('dtype_aliases')}.{alias} must name one of the dtypes "
                f"({', '.join(dtypes)}), got {target!r}"
            )
    overhead = top.table("overhead")
    kv_cache = top.table("kv_cache")
    training = top.table("training")
    facts = ModelFacts(
        dtypes=dtypes,
        dtype_aliases=aliases,
        cuda_context_gb=overhead.number("cuda_context_gb", minimum=0),
        activation_fraction=overhead.number("activation_fraction", minimum=0),
        kv_min_bytes_per_value=kv_cache.number("min_bytes_per_value", above=0),
        training=_training(training),
        presets=tuple(_preset(t) for t in top.tables("presets")),
    )
    overhead.done()
    kv_cache.done()
    training.done()
    top.done()
    unique((p.id for p in facts.presets), "preset id", top.where("presets"))
    return facts


def _preset(t: Table) -> Preset:
    preset = Preset(
        id=t.text("id"),
        name=t.optional_text("name") or t.text("id"),
        params_b=t.number("params_b", above=0),
        kind=t.optional_one_of("kind", KINDS) or "decoder",
        layers=t.optional_whole("layers", minimum=1),
        hidden_size=t.optional_whole("hidden_size", minimum=1),
        attention_heads=t.optional_whole("attention_heads", minimum=1),
        kv_heads=t.optional_whole("kv_heads", minimum=1),
        context_length=t.optional_whole("context_length", minimum=1),
        hf_id=t.optional_text("hf_id"),
    )
    t.done()
    return preset


def _training(t: Table) -> TrainingFacts:
    return TrainingFacts(
        full_bytes_per_param=t.number("full_bytes_per_param", above=0),
        adapter_bytes_per_param=t.number("adapter_bytes_per_param", above=0),
        lora_rank=t.whole("lora_rank", minimum=1),
        lora_matrices_per_layer=t.whole("lora_matrices_per_layer", minimum=1),
        lora_fraction_without_shape=t.number("lora_fraction_without_shape", above=0, maximum=1),
        qlora_bytes_per_param=t.number("qlora_bytes_per_param", above=0),
        checkpoint_bytes_per_token_hidden=t.number("checkpoint_bytes_per_token_hidden", minimum=0),
        layer_bytes_per_token_hidden=t.number("layer_bytes_per_token_hidden", minimum=0),
    )

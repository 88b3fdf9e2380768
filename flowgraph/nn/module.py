"""Layers that own their Parameters, as ``torch.nn`` spells them: a convenience on top of the
boxes, not an engine concept.

A layer holds Parameters (``layer.weight``, ``layer.bias``, laid out as torch's) and, called on
a node, builds ordinary boxes on it: ``h = fc1(x)`` is ``fg.Linear()(x, fc1.weight, fc1.bias)``.
Calling the same layer twice uses the same Parameters twice, so the Graph sums their gradients
over both uses (the lecture's shared weights). Nothing is hidden: the graph holds every box and
every Parameter, and ``fg.Graph(loss).parameters`` lists them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from ..core import Buffer, Parameter
from ..errors import ShapeError

__all__ = ["Module", "Sequential"]


class Module:
    """Base class of the layers: named Parameters (attributes holding a Parameter) and named
    sub-layers (attributes holding a Module), found in the order they were set."""

    def __init__(self, name: str | None = None):
        self.named = name is not None  # an unnamed layer's Parameter names yield on a clash
        self.name = name or type(self).__name__.lower()

    def forward(self, *xs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not define forward")

    def __call__(self, *xs: Any) -> Any:
        return self.forward(*xs)

    def parameter(self, value: np.ndarray, what: str) -> Parameter:
        """A Parameter named ``<layer>.<what>`` (``fc1.weight``), as torch's state_dict keys.
        A layer given no name names its Parameters as a Graph names nodes: kept unless they
        clash with another's, then renamed (``parameter3``)."""
        p = Parameter(value, f"{self.name}.{what}")
        p.auto_named = not self.named
        return p

    def named_leaves(self, kind: type, prefix: str = "") -> Iterator[tuple[str, Any]]:
        """(key, leaf) pairs of the leaves of class ``kind`` (Parameter, Buffer) held by this
        layer and its sub-layers (attributes, lists and tuples of them), with torch's
        state_dict keys: ``weight``, ``0.bias``, ``1.running_var``, ..."""
        for key, value in vars(self).items():
            if isinstance(value, kind):
                yield prefix + key, value
            elif isinstance(value, Module):
                yield from value.named_leaves(kind, f"{prefix}{key}.")
            elif isinstance(value, (list, tuple)):
                for i, m in enumerate(value):
                    if isinstance(m, Module):
                        yield from m.named_leaves(kind, f"{prefix}{i}.")

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """(key, Parameter) pairs with torch's state_dict keys: ``weight``, ``0.bias``, ..."""
        return self.named_leaves(Parameter, prefix)

    def parameters(self) -> list[Parameter]:
        """Every Parameter of this layer and its sub-layers, once each."""
        seen: dict[int, Parameter] = {}
        for _, p in self.named_parameters():
            seen.setdefault(id(p), p)
        return list(seen.values())

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, Buffer]]:
        """(key, Buffer) pairs with torch's state_dict keys: ``running_mean``, ``1.running_var``."""
        return self.named_leaves(Buffer, prefix)

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of the Parameters' and Buffers' values by torch's keys."""
        both = [*self.named_parameters(), *self.named_buffers()]
        return {k: np.array(p.value, copy=True) for k, p in both}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Set every Parameter from ``state`` (torch's keys and layouts: a torch module's
        ``{k: v.detach().numpy() for k, v in m.state_dict().items()}`` copies across), keeping
        each Parameter's dtype; missing or extra keys and wrong shapes are refused first
        (torch's ``num_batches_tracked`` counters are ignored: no momentum of None here)."""
        mine = {**dict(self.named_parameters()), **dict(self.named_buffers())}
        state = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
        missing, extra = sorted(set(mine) - set(state)), sorted(set(state) - set(mine))
        if missing or extra:
            raise KeyError(f"{self.name}: state_dict keys differ: missing {missing}, extra {extra}")
        for k, p in mine.items():
            v = np.asarray(state[k])
            if v.shape != p.value.shape:
                raise ShapeError(f"{self.name}: {k} has shape {p.value.shape}, got {v.shape}")
        for k, p in mine.items():
            p.value[...] = np.asarray(state[k], dtype=p.value.dtype)

    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"


class Sequential(Module):
    """Layers applied in order, as ``torch.nn.Sequential``: ``Sequential(Linear(4, 8), ReLU(),
    Linear(8, 2))(x)``; its Parameters are keyed ``0.weight``, ``2.bias`` as torch's."""

    def __init__(self, *layers: Any, name: str | None = None):
        super().__init__(name)
        for i, layer in enumerate(layers):
            if not callable(layer):
                raise TypeError(f"Sequential: item {i} is not a layer, got {type(layer).__name__}")
        self.layers = list(layers)
        for i, layer in enumerate(self.layers):
            if isinstance(layer, Module):
                layer.name = f"{self.name}.{i}" if name else str(i)
                for key, p in [*layer.named_parameters(), *layer.named_buffers()]:
                    p.name = f"{layer.name}.{key}"
                    p.auto_named = not name

    def forward(self, x: Any) -> Any:
        for layer in self.layers:
            x = layer(x)
        return x

    def __getitem__(self, i: int) -> Any:
        return self.layers[i]

    def __len__(self) -> int:
        return len(self.layers)

    def __repr__(self) -> str:
        inner = "\n".join(f"  ({i}): {layer!r}" for i, layer in enumerate(self.layers))
        return f"Sequential(\n{inner}\n)"

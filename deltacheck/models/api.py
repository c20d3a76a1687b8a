"""``check_model`` from Python: the campaign on one model class, as one call whose result
renders in a notebook."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from deltacheck.core.errors import DeltacheckError
from deltacheck.core.loading import load_object
from deltacheck.layers.api import LayerResult
from deltacheck.models.runner import Settings, run_model, verdict_line
from deltacheck.oracles import checked_names


class ModelResult(LayerResult):
    """The ``deltacheck-model/1`` document of a check, with its verdict (``verdict`` and
    ``passed`` read it as a layer document's are read)."""

    @property
    def failure(self) -> dict[str, Any] | None:
        """The first failing case: message, stage, gradient, diagnosis, case."""
        failures = [f for r in self.document["layers"] for f in r["failures"]]
        return failures[0] if failures else None

    def __repr__(self) -> str:
        return f"ModelResult({verdict_line(self.document)!r})"

    def _repr_html_(self) -> str:
        from deltacheck.reports.model import render

        return render(self.document)


def resolve(model: Any) -> tuple[Any, str]:
    """The class ``model`` names (``"MODULE:Class"``, ``"FILE.py:Class"``) or is, and its name."""
    if isinstance(model, str):
        cls = load_object(model, argument="model")
        source = model
    else:
        cls, source = model, f"{getattr(model, '__module__', '?')}:" \
                             f"{getattr(model, '__qualname__', model)}"
    if not isinstance(cls, type) or not callable(getattr(cls, "loss", None)):
        raise DeltacheckError(f"model {source!r} is not a class with a loss(X, y=None) "
                              "method; name a course-style model class, e.g. "
                              "fc_net.py:FullyConnectedNet")
    return cls, source


def check_model(model: Any, *, composition: Sequence[str] | None = None,
                args: dict[str, Any] | None = None, examples: int = 6, seed: int = 0,
                oracles: Sequence[str] = ("torch", "jax", "fd"), l2: float = 0.5) -> ModelResult:
    """Check a model class (or ``"FILE.py:Class"``) against the composed reference layers."""
    if examples < 1:
        raise DeltacheckError(f"examples={examples}: give at least 1")
    if l2 <= 0:
        raise DeltacheckError(f"l2={l2}: the L2 term is l2 · reg · ΣW²; give a positive "
                              "factor (the course's is 0.5)")
    names = checked_names(list(oracles), argument="oracles")
    cls, source = resolve(model)
    config = Settings(examples=examples, seed=seed, oracles=tuple(names),
                      composition=list(composition) if composition else None,
                      args=dict(args or {}), l2=l2)
    return ModelResult(run_model(cls, source, config))

"""The layers the models are built on: every name of examples/layers/layers.py, so that the
models import them relatively (``from .layers import *``), as course code does."""

import importlib.util
from pathlib import Path

_FILE = Path(__file__).resolve().parents[1] / "layers" / "layers.py"
_spec = importlib.util.spec_from_file_location(f"{__name__}_source", _FILE)
_source = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_source)
globals().update({k: v for k, v in vars(_source).items() if not k.startswith("_")})
__all__ = [k for k in vars(_source) if not k.startswith("_")]

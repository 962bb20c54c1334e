"""Complaint classifier for German and English mail: pure (no database, network or clock).

`classify` tells what a mail's new part is about (category with a calibrated confidence),
its language, the reply intent when asked in a context, and whether it is an automatic
reply, with the rules that fired. See `classifier.classification` for the chain.
"""

from __future__ import annotations

import importlib
from typing import Any

# Names are resolved on first use (PEP 562), so that importing a light submodule
# (`classifier.machine`, `classifier.records`) does not load numpy and the model code.
_HOME = {
    "DEFAULT_PROPOSAL_THRESHOLD": "classifier.classification",
    "DEFAULT_SOLVED_THRESHOLD": "classifier.classification",
    "DEFAULT_TRIAGE_THRESHOLD": "classifier.classification",
    "Classification": "classifier.classification",
    "classify": "classifier.classification",
    "classify_many": "classifier.classification",
    "default_model": "classifier.classification",
    "Model": "classifier.model",
    "ModelError": "classifier.model",
    "load": "classifier.model",
    "save": "classifier.model",
    "train": "classifier.model",
    "Reply": "classifier.replies",
    "extract_reply": "classifier.replies",
}

__all__ = sorted(_HOME)


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'classifier' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOME[name]), name)
    globals()[name] = value
    return value

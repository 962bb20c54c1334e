"""Complaint classifier for German and English mail: pure (no database, network or clock).

`classify` tells what a mail's new part is about (category with a calibrated confidence),
its language, the reply intent when asked in a context, and whether it is an automatic
reply, with the rules that fired. See `classifier.classification` for the chain.
"""

from classifier.classification import (
    DEFAULT_TRIAGE_THRESHOLD,
    Classification,
    classify,
    classify_many,
    default_model,
)
from classifier.model import Model, ModelError, load, save, train
from classifier.replies import Reply, extract_reply

__all__ = [
    "DEFAULT_TRIAGE_THRESHOLD",
    "Classification",
    "Model",
    "ModelError",
    "Reply",
    "classify",
    "classify_many",
    "default_model",
    "extract_reply",
    "load",
    "save",
    "train",
]

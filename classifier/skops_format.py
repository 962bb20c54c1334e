"""Reading the model file, a skops archive, without importing skops or scikit-learn.

Owns `read`. `skops.io.dump` writes a zip archive: `schema.json` describes the object
tree, and every numpy array is an `.npy` member. Importing `skops.io` imports all of
scikit-learn (it lists every estimator to know which types to trust by default), about
130 MB of resident memory in a process that only needs a few arrays. The file that
`classifier.model.save` writes holds nothing but dicts with string keys, lists, strings,
numbers, booleans, None and numeric numpy arrays, types that skops trusts without being
told (`skops.io.get_untrusted_types` lists none for it). `read` accepts exactly these node
types and refuses every other, so a file can never make it create an object or call a
function; arrays are read with `numpy.load(allow_pickle=False)`. Tests check that `read`
and `skops.io.load` return the same content.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

# The skops file protocol this reader knows (skops 0.16 writes protocol 2).
PROTOCOL = 2
_MAX_DEPTH = 16
_PRIMITIVES = (str, int, float, bool, type(None))
_NUMERIC_KINDS = frozenset("biuf")


class UnsupportedContent(ValueError):
    """A file that is no skops archive, or holds a type outside the allowlist."""


def read(path: Path) -> Any:
    """The content of a skops archive made only of the allowed types."""
    try:
        with zipfile.ZipFile(path) as archive:
            schema = json.loads(archive.read("schema.json"))
            if not isinstance(schema, dict) or schema.get("protocol") != PROTOCOL:
                raise UnsupportedContent(f"{path}: not a skops archive of protocol {PROTOCOL}")
            return _construct(schema, archive, 0)
    except UnsupportedContent:
        raise
    except (zipfile.BadZipFile, OSError, KeyError, AttributeError, TypeError, ValueError) as error:
        raise UnsupportedContent(f"{path}: unreadable skops archive ({error})") from error


def _construct(state: Any, archive: zipfile.ZipFile, depth: int) -> Any:
    if depth > _MAX_DEPTH or not isinstance(state, dict):
        raise UnsupportedContent("the object tree is malformed or nested too deeply")
    loader = state.get("__loader__")
    kind = f"{state.get('__module__')}.{state.get('__class__')}"
    if loader == "JsonNode" and state.get("__module__") == "builtins":
        value = json.loads(state["content"])
        if isinstance(value, _PRIMITIVES):
            return value
    elif loader == "ListNode" and kind == "builtins.list":
        return [_construct(item, archive, depth + 1) for item in state["content"]]
    elif loader == "DictNode" and kind == "builtins.dict":
        key_types = state["key_types"]
        if key_types.get("__loader__") != "ListNode" or any(
            f"{t.get('__module__')}.{t.get('__class__')}" != "builtins.str"
            or t.get("__loader__") != "TypeNode"
            for t in key_types["content"]
        ):
            raise UnsupportedContent("a dict with keys that are not strings")
        return {
            str(key): _construct(value, archive, depth + 1)
            for key, value in state["content"].items()
        }
    elif loader == "NdArrayNode" and kind == "numpy.ndarray" and state.get("type") == "numpy":
        array = np.load(io.BytesIO(archive.read(state["file"])), allow_pickle=False)
        if array.dtype.kind in _NUMERIC_KINDS:
            return array
        kind = f"numpy.ndarray of {array.dtype}"
    raise UnsupportedContent(f"type {kind} ({loader}) is outside the allowlist")

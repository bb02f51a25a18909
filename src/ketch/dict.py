"""Modal's `modal.dict`, for ported imports (`from ketch.dict import Dict`)."""

from ._dict import Dict
from ._missing import not_yet

__all__ = ["Dict"]

__getattr__ = not_yet(__name__, {
    "DictManager": "Dict.objects; use Dict.from_name(...) and `ketch dict list|delete`",
})

"""Modal's `modal.secret`, for ported imports (`from ketch.secret import Secret`)."""

from ._missing import not_yet
from ._secret import Secret

__all__ = ["Secret"]

__getattr__ = not_yet(__name__, {
    "SecretManager": "Secret.objects; use Secret.from_name(...) and `ketch secret list`",
})

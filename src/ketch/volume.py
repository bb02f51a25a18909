"""Modal's `modal.volume`, for ported imports (`from ketch.volume import Volume`)."""

from ._missing import not_yet
from ._volume import FileEntry, FileEntryType, Volume
from ._volume import VolumeUpload as VolumeUploadContextManager

__all__ = ["FileEntry", "FileEntryType", "Volume", "VolumeUploadContextManager"]

__getattr__ = not_yet(__name__, {
    "VolumeManager": "Volume.objects; use Volume.from_name(...) and `ketch volume list`",
    "AbstractVolumeUploadContextManager": "Modal's upload internals; use "
                                          "Volume.batch_upload()",
    "VolumeUploadContextManager2": "Modal's v2 volumes; use Volume.batch_upload()",
})

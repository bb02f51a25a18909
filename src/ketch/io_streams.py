"""Modal's `modal.io_streams`: a sandbox process's stdout/stderr readers, stdin writer."""

from ._io_streams import StreamReader, StreamWriter

__all__ = ["StreamReader", "StreamWriter"]

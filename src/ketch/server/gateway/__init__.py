"""The HTTP and WebSocket front door for web endpoints (see service.py and proxy.py)."""

from .service import Gateway

__all__ = ["Gateway"]

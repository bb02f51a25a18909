"""The ketch control plane: one asyncio process assembled from services (see main.py)."""

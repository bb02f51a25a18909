"""The api layer: frames in, service calls, frames out. `session.Session` serves one
connection; `routes.ROUTES` says which handler answers each request."""

"""The server's side of a Ray cluster: joining it (ray_join), the nodes it holds and what
they have free (nodes), where a container goes (placement), and the runtime backend that
forwards starts and stops to each node's agent (runtime)."""

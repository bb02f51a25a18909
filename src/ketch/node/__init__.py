"""Code that runs on a cluster node beside Ray: the node agent that starts the node's
containers. It imports nothing from the server but the runtime backends it runs."""

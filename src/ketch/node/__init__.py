"""What runs on a cluster node beside its agent: the node's link to the server, its cache of
image layers and code bundles, its volume copies and its relays. Nothing here imports
ketch.server: a node has ketch installed, not the server's state."""

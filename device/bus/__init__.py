"""The bus: typed ZeroMQ publish/subscribe and request/reply between Swivel's processes."""

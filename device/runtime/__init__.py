"""The service runtime: event loop, SIGTERM handling, heartbeats, systemd notification, logs."""

"""Real-time core: hub and dashboard WebSockets, the broker between processes, status coalescing."""

"""Frame size and nesting limits of the protocol (docs/protocol.md, "Limits")."""

# A hub frame is decoded in one piece on the ESP32: 64 KiB is the largest heap block we budget
# for it (plus the decoded objects, typically a few KiB).
MAX_HUB_FRAME = 65536
# Dashboards run on real computers; 1 MiB bounds a browser's burst without starving the server.
MAX_DASHBOARD_FRAME = 1048576
# Deepest nesting of containers (the top-level map counts as 1). Bounds recursion on the hub.
MAX_DEPTH = 16

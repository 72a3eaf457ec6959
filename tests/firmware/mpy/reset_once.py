"""Boot script for test_hub_runner: the first boot asks for machine.reset(), the second reports why it booted."""

import json
import os

import machine

if "booted" not in os.listdir():
    with open("booted", "w") as f:
        f.write("1")
    machine.reset()
print(json.dumps({"reset_cause": machine.reset_cause(), "hard": machine.HARD_RESET}))

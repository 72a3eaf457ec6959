"""MicroPython side of test_bambu_status: feeds report sequences through drivers.bambu_status."""

import json
import sys

from drivers import bambu_status as bs

with open(sys.argv[1]) as f:
    cases = json.load(f)
for case in cases:
    if case["kind"] == "reports":
        raw = {}
        for report in case["reports"]:
            bs.merge_report(raw, report)
        st = bs.normalise(raw, case.get("connected", True), case.get("error"))
        print(json.dumps({"name": case["name"], "status": st}))
    elif case["kind"] == "ack":
        print(json.dumps({"name": case["name"], "error": bs.ack_error(case["ack"])}))

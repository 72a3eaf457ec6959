"""Run shared `case_*` functions inside micropython and print one result line per case.

Usage: micropython protocol_mp_harness.py MODULE [MODULE...]
Output: "PASS module.case" or "FAIL module.case" followed by the traceback lines prefixed with
"| ", then a final "DONE n". tests/protocol/protocol_mp.py parses this for pytest.
"""

import io
import sys

import protocol.codec


def run_module(name):
    module = __import__(name)
    arg = (protocol.codec,) if getattr(module, "NEEDS_CODEC", False) else ()
    count = 0
    for attr in sorted(dir(module)):
        if not attr.startswith("case_"):
            continue
        count += 1
        label = name + "." + attr
        try:
            getattr(module, attr)(*arg)
        except Exception as exc:  # report every failure, keep running the others
            buf = io.StringIO()
            sys.print_exception(exc, buf)
            print("FAIL " + label)
            for line in buf.getvalue().split("\n"):
                print("| " + line)
        else:
            print("PASS " + label)
    return count


def main():
    total = 0
    for name in sys.argv[1:]:
        total += run_module(name)
    print(f"DONE {total}")


main()

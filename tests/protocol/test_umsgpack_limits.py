"""protocol/umsgpack.py in micropython with a 64 KiB heap: hostile lengths never allocate, depth costs no stack."""

import protocol_mp
import pytest

pytestmark = pytest.mark.micropython


@pytest.fixture(scope="module")
def lowheap_results():
    return protocol_mp.run_checks("protocol_mp_lowheap.py", heapsize="64K")


def test_heap_limit_is_in_force(lowheap_results):
    assert lowheap_results["heap is 64K"] == (True, "")


def test_nesting_costs_no_c_stack(lowheap_results):
    ok, why = lowheap_results["depth costs no C stack"]
    assert ok, why


@pytest.mark.parametrize(
    "name",
    [
        "str32 2^32-1",
        "bin32 2^32-1",
        "array32 2^32-1",
        "map32 2^32-1",
        "array16 65535",
        "map16 65535",
        "nested array32",
        "array32 of bin32",
        "deep 500",
        "valid message still decodes",
    ],
)
def test_claim_fails_fast_without_memory_error(lowheap_results, name):
    ok, why = lowheap_results[name]
    assert ok, why

"""protocol/codec.py: the shared cases on CPython and inside the real micropython binary."""

import protocol_cases_codec as cases
import protocol_mp
import pytest

from protocol import codec, umsgpack


@pytest.mark.parametrize("name", protocol_mp.case_names(cases))
@pytest.mark.parametrize("backend", [codec, umsgpack], ids=["c-msgpack", "pure"])
def test_case_cpython(backend, name):
    getattr(cases, name)(backend)


def test_cpython_codec_is_the_c_package():
    import msgpack

    assert codec.packb is not umsgpack.packb
    assert codec.unpackb is not umsgpack.unpackb
    assert codec._c_packb is msgpack.packb


CASES = protocol_mp.case_names(cases)


@pytest.fixture(scope="module")
def micropython_results():
    """Every case of the module run once in micropython: {"module.case": (passed, detail)}."""
    return protocol_mp.run_cases("protocol_cases_codec")


@pytest.mark.micropython
@pytest.mark.parametrize("name", CASES)
def test_case_micropython(micropython_results, name):
    passed, detail = micropython_results["protocol_cases_codec." + name]
    assert passed, detail

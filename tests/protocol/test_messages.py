"""protocol/messages.py: the shared cases on CPython and inside the real micropython binary."""

import protocol_cases_messages as cases
import protocol_mp
import pytest


@pytest.mark.parametrize("name", protocol_mp.case_names(cases))
def test_case_cpython(name):
    getattr(cases, name)()


CASES = protocol_mp.case_names(cases)


@pytest.fixture(scope="module")
def micropython_results():
    """Every case of the module run once in micropython: {"module.case": (passed, detail)}."""
    return protocol_mp.run_cases("protocol_cases_messages")


@pytest.mark.micropython
@pytest.mark.parametrize("name", CASES)
def test_case_micropython(micropython_results, name):
    passed, detail = micropython_results["protocol_cases_messages." + name]
    assert passed, detail

"""Unhappy paths of the small pieces under micropython: DNS packets, loader state, bundles."""

import json

import pytest

pytestmark = pytest.mark.micropython


def run_json(hub, code):
    proc = hub.run(code)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(proc.stdout.split("OUT ", 1)[1])


def test_dns_answers_only_well_formed_queries(hub):
    code = r"""
import json, struct
from device.dns import answer
q = struct.pack('>HHHHHH', 7, 0x0100, 1, 0, 0, 0) + b'\x03www\x07example\x03com\x00' + struct.pack('>HH', 1, 1)
good = answer(q, '192.168.4.1')
cases = {
    'good_len': len(good),
    'good_ip': list(good[-4:]),
    'short': answer(b'\x00' * 5, '192.168.4.1'),
    'response_bit': answer(q[:2] + b'\x81\x00' + q[4:], '192.168.4.1'),
    'two_questions': answer(q[:4] + b'\x00\x02' + q[6:], '192.168.4.1'),
    'truncated_name': answer(q[:16], '192.168.4.1'),
    'pointer_in_question': answer(q[:12] + b'\xc0\x0c' + q[-4:], '192.168.4.1'),
    'no_type': answer(q[:-3], '192.168.4.1'),
    'opcode_status': answer(q[:2] + b'\x10\x00' + q[4:], '192.168.4.1'),
    'class_chaos_answers': struct.unpack('>H', answer(q[:-2] + b'\x00\x03', '192.168.4.1')[6:8])[0],
}
print('OUT', json.dumps(cases))
"""
    out = run_json(hub, code)
    assert out["good_len"] == len(b"\x03www\x07example\x03com\x00") + 12 + 4 + 16
    assert out["good_ip"] == [192, 168, 4, 1]
    for key in (
        "short",
        "response_bit",
        "two_questions",
        "truncated_name",
        "pointer_in_question",
        "no_type",
        "opcode_status",
    ):
        assert out[key] is None, key
    assert out["class_chaos_answers"] == 0


def test_loader_falls_back_from_an_incomplete_slot_and_leaves_safe_mode(hub):
    code = """
import json, os, loader
os.mkdir('apps'); os.mkdir('apps/a')
with open('apps/a/VERSION', 'w') as f:
    f.write('1.0')
loader._state['slot'] = 'factory'
loader.install('a', '1.0')
os.remove('apps/a/VERSION')            # power cut while the slot was being written
first = loader.choose()
try:
    loader.install('b', '2.0')         # nothing written there
    refused = False
except ValueError:
    refused = True
for _ in range(6):
    mode = loader.choose()
loader.leave_safe_mode()
after = loader.choose()
print('OUT', json.dumps([first, refused, mode, after, loader.state()['boots']]))
"""
    first, refused, safe, after, boots = run_json(hub, code)
    assert first == ["factory", "normal"]
    assert refused is True
    assert safe == ["factory", "safe"]
    assert after == ["factory", "normal"] and boots == 1


def test_bundle_refuses_paths_outside_the_slot_and_truncation(hub):
    code = r"""
import json, os
from device.app_bundle import pack, unpack, BundleError
def try_unpack(data):
    with open('b.pfa', 'wb') as f:
        f.write(data)
    try:
        return unpack('b.pfa', 'out')
    except BundleError as e:
        return 'refused: ' + str(e)
os.mkdir('out')
good = pack([('pkg/__init__.py', b''), ('pkg/mod.py', b'x = 1\n' * 400)])
results = [try_unpack(good), open('out/pkg/mod.py').read().count('x = 1')]
for bad in (b'PFA1\x00\x06../x.py\x00\x00\x00\x01x\x00\x00', b'PFA1\x00\x06/etc/p\x00\x00\x00\x01x\x00\x00',
            good[:-10], b'ZIP!' + good[4:], b'PFA1\x00\x05a//bc\x00\x00\x00\x00\x00\x00'):
    results.append(try_unpack(bad))
try:
    pack([('../evil', b'')])
except BundleError:
    results.append('pack refused')
print('OUT', json.dumps(results))
"""
    out = run_json(hub, code)
    assert out[0] == ["pkg/__init__.py", "pkg/mod.py"] and out[1] == 400
    assert all(r.startswith("refused") for r in out[2:7]), out
    assert out[7] == "pack refused"
    assert not (hub.dir / "x.py").exists()

"""FTPS reply wording: pyftpdlib's replies rewritten into the printer's vsftpd 3.0.3 texts."""

from __future__ import annotations

import pytest

from hub_sim.bambu.ftps import _vsftpd_reply


@pytest.mark.parametrize(
    ("reply", "cmd", "arg", "expected"),
    [
        ("331 Username ok, send password.", "USER", "", "331 Please specify the password."),
        ("530 Authentication failed.", "PASS", "", "530 Login incorrect."),
        ("200 PBSZ=0 successful.", "PBSZ", "", "200 PBSZ set to 0."),
        ("200 Protection set to Private", "PROT", "", "200 PROT now Private."),
        ("200 Type set to: Binary.", "TYPE", "", "200 Switching to Binary mode."),
        (
            "125 Data connection already open. Transfer starting.",
            "STOR",
            "a",
            "150 Ok to send data.",
        ),
        (
            "150 File status okay. About to open data connection.",
            "LIST",
            "",
            "150 Here comes the directory listing.",
        ),
        (
            "125 Data connection already open. Transfer starting.",
            "RETR",
            "a.3mf",
            "150 Opening BINARY mode data connection for a.3mf.",
        ),
        ("226 Transfer complete.", "LIST", "", "226 Directory send OK."),
        ("226 Transfer complete.", "STOR", "", "226 Transfer complete."),
        (
            "227 Entering passive mode (127,0,0,1,4,1).",
            "PASV",
            "",
            "227 Entering Passive Mode (127,0,0,1,4,1).",
        ),
        ("550 No such file or directory.", "SIZE", "", "550 Could not get file size."),
        ("550 Permission denied.", "STOR", "", "553 Could not create file."),
        ('257 "/model" directory created.', "MKD", "", '257 "/model" created'),
        ('257 "/" is the current directory.', "PWD", "", '257 "/" is the current directory'),
        ('500 Command "PORT" not understood.', "PORT", "", "500 Unknown command."),
        ("421 Control connection timed out.", "NOOP", "", "421 Timeout."),
        ("213 1234", "SIZE", "", "213 1234"),
    ],
)
def test_replies_use_vsftpd_wording(reply, cmd, arg, expected):
    assert _vsftpd_reply(reply, cmd, arg) == expected

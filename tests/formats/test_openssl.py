"""openssl s_client output: certificate verification lines around the SMTP dialogue."""

from __future__ import annotations

from .conftest import labels, parse_excerpt, rows


def test_expired_certificate_dates(tmp_path):
    # s_client prints the certificate's notAfter (or notBefore) date below a validity error.
    frame, report = parse_excerpt(tmp_path, """
        CONNECTED(00000003)
        depth=0 CN = mail.legacy.example
        verify error:num=10:certificate has expired
        notAfter=Jan  1 00:00:00 2026 GMT
        verify return:1
        depth=0 CN = mail.legacy.example
        verify error:num=9:certificate is not yet valid
        notBefore=Jan  1 00:00:00 2030 GMT
        verify return:1
        ---
        SSL handshake has read 1650 bytes and written 420 bytes
        Verification error: certificate has expired
        ---
        250 DSN
    """)

    (row,) = rows(frame)
    assert labels(row) == ("tls", "certificate_invalid", None, None)
    assert report["unrecognised"] == 0
    assert [w for w in report["warnings"] if "has no time" not in w] == []  # s_client prints no time

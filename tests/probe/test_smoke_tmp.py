from smtplogkit.probe import probe, render
from probe_servers import MAIL_HOST

def test_smoke(starttls_server, implicit_server, plain_server, wrong_host_server, untrusted_server, silent_server, closed_port, dns_server, cafile):
    for port, tls in [(starttls_server.port, "auto"), (implicit_server.port, "auto"), (implicit_server.port, "starttls"),
                      (starttls_server.port, "implicit"), (plain_server.port, "auto"), (wrong_host_server.port, "auto"),
                      (untrusted_server.port, "implicit"), (silent_server.port, "auto"), (closed_port, "auto")]:
        r = probe(MAIL_HOST, port=port, tls=tls, nameserver=dns_server.address, cafile=cafile, timeout=1)
        print(render(r)); print()
    for name in ["gone.probe.test", "broken.probe.test", "slow.probe.test", "noaddress.probe.test", "dual.probe.test", "closed.probe.test"]:
        r = probe(name, port=starttls_server.port, nameserver=dns_server.address, cafile=cafile, timeout=1)
        print(render(r)); print()
    r = probe("probe.test", mx=True, port=starttls_server.port, nameserver=dns_server.address, cafile=cafile, timeout=1)
    print(render(r)); print(dns_server.queries)

def test_smoke_read(starttls_server, implicit_server, closed_port, dns_server, cafile, tmp_path):
    import json
    from smtplogkit import read_logs
    out = tmp_path / "p.jsonl"
    with out.open("w") as h:
        for host, port, tls in [(MAIL_HOST, starttls_server.port, "auto"), (MAIL_HOST, starttls_server.port, "implicit"), ("gone.probe.test", 25, "auto"), (MAIL_HOST, closed_port, "auto")]:
            r = probe(host, port=port, tls=tls, nameserver=dns_server.address, cafile=cafile, timeout=1, network="lab")
            for rec in r.records():
                h.write(json.dumps(rec) + "\n")
    df = read_logs(str(out))
    import pandas as pd
    pd.set_option("display.width", 250); pd.set_option("display.max_columns", 50)
    print(df[["session_id","host","ip","port","tls_mode","last_stage_reached","failure_stage","cause","outcome","network","connect_s","tls_s","ehlo_s","duration_s"]])
    print(df.attrs["files"])

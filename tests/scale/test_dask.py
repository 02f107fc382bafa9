"""The Dask reader returns the pandas reader's sessions, on a real local cluster."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import smtplogkit

dd = pytest.importorskip("dask.dataframe", reason="the dask extra is not installed")
distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")


def comparable(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.sort_values("session_id").reset_index(drop=True)
    frame.attrs = {}
    return frame


def test_dask_equals_pandas_on_cluster(fleet):
    import smtplogkit.dask as sdask

    template = str(fleet / "{network}" / "{worker}" / "*.log")
    expected = smtplogkit.read_logs(template)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster, distributed.Client(cluster):
        lazy = sdask.read_logs(template)
        assert lazy.npartitions == 6
        result = lazy.compute()
    pd.testing.assert_frame_equal(comparable(expected), comparable(result))


def test_dask_reads_fsspec_paths(fleet):
    import fsspec

    import smtplogkit.dask as sdask

    memory = fsspec.filesystem("memory")
    for path in sorted(fleet.rglob("*.log")):
        memory.pipe(f"/fleet/{path.parent.parent.name}-{path.parent.name}.log", path.read_bytes())
    lazy = sdask.read_logs("memory://fleet/*.log")
    result = lazy.compute(scheduler="synchronous")
    assert len(result) == 36
    assert result["source"].str.startswith("memory://").all()


def test_dask_result_diagnoses_like_pandas(fleet):
    import smtplogkit.dask as sdask

    template = str(fleet / "{network}" / "{worker}" / "*.log")
    result = sdask.read_logs(template).compute(scheduler="synchronous")
    assert not result.index.is_unique  # one RangeIndex per partition
    expected = smtplogkit.diagnose(smtplogkit.read_logs(template))
    assert [f.to_dict() for f in smtplogkit.diagnose(result)] == [f.to_dict() for f in expected]


def in_line_order(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.sort_values(["source", "line", "session_id"], kind="stable").reset_index(drop=True)
    frame.attrs = {}
    return frame


def test_dask_shares_equal_pandas_on_cluster(maillog):
    import smtplogkit.dask as sdask

    expected = smtplogkit.read_logs(maillog, format="postfix", progress=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster, distributed.Client(cluster):
        lazy = sdask.read_logs(str(maillog), format="postfix", shares=3)
        assert lazy.npartitions == 3
        result = lazy.compute()
    assert len(expected) > 1000
    pd.testing.assert_frame_equal(in_line_order(expected), in_line_order(result), check_exact=True)


def test_dask_shares_of_remote_maillog(maillog):
    import fsspec

    import smtplogkit.dask as sdask

    fsspec.filesystem("memory").pipe("/relay/maillog", maillog.read_bytes())
    lazy = sdask.read_logs("memory://relay/maillog", format="postfix", shares=2)
    assert lazy.npartitions == 2
    result = lazy.compute(scheduler="synchronous")
    expected = smtplogkit.read_logs(maillog, format="postfix", progress=False)
    assert set(result["source"]) == {"memory:///relay/maillog"}
    assert result["session_id"].str.startswith("memory:///relay/maillog:").all()
    names = ["source", "session_id"]  # the file's name, and the session ids made from it
    pd.testing.assert_frame_equal(in_line_order(expected).drop(columns=names),
                                  in_line_order(result).drop(columns=names), check_exact=True)


def test_dask_shares_leave_small_and_client_logs_whole(fleet, maillog, monkeypatch):
    import smtplogkit.dask as sdask
    from smtplogkit import parallel

    template = str(fleet / "{network}" / "{worker}" / "*.log")
    assert sdask.read_logs(template, shares=4).npartitions == 6  # smtplib logs are not read in shares
    monkeypatch.setattr(parallel, "SHARE_BYTES", maillog.stat().st_size + 1)
    assert sdask.read_logs(str(maillog), format="postfix", shares=4).npartitions == 1
    with pytest.raises(smtplogkit.OptionError, match="shares must be 1 or more"):
        sdask.read_logs(str(maillog), shares=0)


@pytest.mark.parametrize("function", ["diagnose", "enrich", "token_refreshes"])
def test_dask_frame_rejected_with_hint(fleet, function):
    template = str(fleet / "{network}" / "{worker}" / "*.log")
    frame = smtplogkit.read_events(template) if function == "token_refreshes" else smtplogkit.read_logs(template)
    lazy = dd.from_pandas(frame, npartitions=2)
    with pytest.raises(TypeError) as raised:
        getattr(smtplogkit, function)(lazy)
    message = str(raised.value)

    assert f"{function}() needs a pandas DataFrame" in message
    assert type(lazy).__name__ in message
    assert "call .compute() on it first" in message
    # The computed frame is accepted.
    getattr(smtplogkit, function)(lazy.compute())



def test_dask_partition_leaves_chain_untouched(tmp_path, monkeypatch):
    # All the shares of a chain of rotations hold one Chain, and the threaded scheduler reads them at
    # once: a read must keep its state (where each file starts, its counts) off the shared object.
    from smtplogkit import parallel
    from smtplogkit.dask import _partition
    from smtplogkit.inputs import Chain, expand, group_rotations

    from test_fast_paths import _maillog  # the same directory, which pytest puts on the path

    import smtplogkit.dask as sdask

    monkeypatch.setattr(parallel, "SHARE_BYTES", 0)
    (tmp_path / "maillog.1").write_text(_maillog(5, 3000))
    (tmp_path / "maillog").write_text(_maillog(6, 3000))
    expected = in_line_order(smtplogkit.read_logs(tmp_path, format="postfix", progress=False))
    lazy = sdask.read_logs(str(tmp_path), format="postfix", shares=2)
    options = {"format": "postfix", "labels": {}, "tz": None, "date": None}
    (chain,) = group_rotations(expand(str(tmp_path)).sources)
    assert isinstance(chain, Chain)

    shares = [_partition((chain, (k, 2)), options) for k in range(2)]

    assert chain.reading is None
    assert chain.opened is None
    pd.testing.assert_frame_equal(expected, in_line_order(pd.concat(shares)), check_exact=True)
    pd.testing.assert_frame_equal(expected, in_line_order(lazy.compute(scheduler="threads")), check_exact=True)


def test_dask_mixed_inputs_keep_queue_ids():
    """Client logs and a relay's maillog in one frame: the maillog's queue ids stay, as in the pandas reader."""
    import smtplogkit.dask as sdask

    folder = Path(__file__).resolve().parents[2] / "sample_data" / "prod"
    inputs = [str(folder / "support-agent"), str(folder / "relay")]
    expected = smtplogkit.read_logs(inputs, progress=False)
    result = sdask.read_logs(inputs).compute(scheduler="synchronous")
    assert "queue_id" in expected
    assert expected["queue_id"].notna().sum() > 100
    pd.testing.assert_frame_equal(in_line_order(expected), in_line_order(result), check_exact=True)
    client_only = sdask.read_logs(inputs[:1])
    assert "queue_id" not in client_only.columns
    assert list(client_only.compute(scheduler="synchronous").columns) == list(client_only.columns)

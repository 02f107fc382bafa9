"""The reader on awkward inputs: encodings, compression, damage, folders, bad paths.

Each case checks that every line is accounted for (parsed + noise +
unrecognised == lines) and that the sessions match those read from the
plain UTF-8 original.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import smtplogkit
from smtplogkit import inputs

CAPTURES = Path(__file__).parent / "captures"
SAMPLE = CAPTURES / "smtplib" / "rate_limited.debug1.log"
SWAKS_SAMPLE = CAPTURES / "swaks" / "greylisted.tls.log"
LABELS = ["failure_stage", "cause", "reply_code", "enhanced_code"]


def file_report(frame) -> dict:
    reports = frame.attrs["files"]
    assert len(reports) == 1
    return reports[0]


def assert_accounted(report: dict) -> None:
    assert report["parsed"] + report["noise"] + report["unrecognised"] == report["lines"]


def labels(frame) -> list[tuple]:
    return [tuple(row) for row in frame[LABELS].astype(object).itertuples(index=False)]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "smtplogkit", *args], capture_output=True, text=True, timeout=60,
                          check=False)


@pytest.fixture(scope="module")
def original():
    return smtplogkit.read_logs(SAMPLE)


def test_original_accounted(original):
    report = file_report(original)

    assert_accounted(report)
    assert report["lines"] == len(SAMPLE.read_text().splitlines())
    assert report["unrecognised"] == 0


def test_empty_file(tmp_path):
    path = tmp_path / "empty.log"
    path.write_bytes(b"")
    frame = smtplogkit.read_logs(path)
    report = file_report(frame)

    assert len(frame) == 0
    assert report["lines"] == 0
    assert_accounted(report)
    assert any("empty" in w and str(path) in w for w in report["warnings"])


def test_blank_lines_only(tmp_path):
    path = tmp_path / "blank.log"
    path.write_text("\n\n   \n")
    frame = smtplogkit.read_logs(path)
    report = file_report(frame)

    assert len(frame) == 0
    assert report["lines"] == 3
    assert_accounted(report)


def test_binary_file(tmp_path):
    path = tmp_path / "core.log"
    path.write_bytes(bytes(range(256)) * 40)
    frame = smtplogkit.read_logs(path)
    report = file_report(frame)

    assert len(frame) == 0
    assert report["encoding"] == "binary"
    assert_accounted(report)
    assert any("binary" in w and str(path) in w for w in report["warnings"])


def test_latin1_line(tmp_path, original):
    text = SAMPLE.read_text().replace("capture 1", "capture caf\xe9 1")
    path = tmp_path / "latin1.log"
    path.write_bytes(text.encode("latin-1"))
    frame = smtplogkit.read_logs(path)
    report = file_report(frame)
    changed = next(n for n, line in enumerate(text.splitlines(), 1) if "caf\xe9" in line)

    assert labels(frame) == labels(original)
    assert report["encoding"] == "utf-8 with latin-1 fallback"
    assert_accounted(report)
    assert any(w.startswith(f"{path}:{changed}:") for w in report["warnings"])


def test_utf16_with_bom(tmp_path, original):
    path = tmp_path / "utf16.log"
    path.write_bytes(SAMPLE.read_text().encode("utf-16"))
    frame = smtplogkit.read_logs(path)
    report = file_report(frame)

    assert labels(frame) == labels(original)
    assert report["encoding"] == "utf-16"
    assert report["lines"] == file_report(original)["lines"]
    assert_accounted(report)


def test_utf8_bom(tmp_path, original):
    path = tmp_path / "bom.log"
    path.write_bytes(b"\xef\xbb\xbf" + SAMPLE.read_bytes())
    frame = smtplogkit.read_logs(path)

    assert labels(frame) == labels(original)
    assert file_report(frame)["unrecognised"] == 0


def test_crlf_line_ends(tmp_path, original):
    path = tmp_path / "crlf.log"
    path.write_bytes(SAMPLE.read_bytes().replace(b"\n", b"\r\n"))
    frame = smtplogkit.read_logs(path)
    report = file_report(frame)

    assert labels(frame) == labels(original)
    assert report["lines"] == file_report(original)["lines"]
    assert report["unrecognised"] == 0
    assert_accounted(report)


def test_truncated_last_line(tmp_path):
    data = SWAKS_SAMPLE.read_bytes().rstrip(b"\n")
    cut = data[: data.rindex(b"\n") + 8]  # the last line loses all but 7 characters
    path = tmp_path / "cut.log"
    path.write_bytes(cut)
    frame = smtplogkit.read_logs(path)
    report = file_report(frame)

    assert report["lines"] == cut.count(b"\n") + 1
    assert_accounted(report)
    assert len(frame) == 1
    assert frame["cause"].iloc[0] == "greylisted"
    assert cut_warnings(report, path) == [report["lines"]]


CUT_WARNING = "the file's last line has no line end and was not read"


def cut_warnings(report: dict, name) -> list[int]:
    """Return the line numbers of the report's warnings about a cut last line, checking that they name the file."""
    numbers = []
    for warning in report["warnings"]:
        if CUT_WARNING in warning:
            head = warning.split(": ", 1)[0]
            assert head.rsplit(":", 1)[0] == str(name)
            numbers.append(int(head.rsplit(":", 1)[1]))
    return numbers


def test_cut_noise_line_warns(tmp_path):
    # A retcode line that lost its end still starts as a noise line does.
    body = tmp_path / "body.log"
    body.write_text(SAMPLE.read_text())
    path = tmp_path / "cut-noise.log"
    path.write_text(body.read_text() + "reply: retcode (250); Msg: b'2.1")
    report = file_report(smtplogkit.read_logs(path))
    before = file_report(smtplogkit.read_logs(body))

    assert report["lines"] == before["lines"] + 1
    assert report["noise"] == before["noise"] + 1
    assert report["parsed"] == before["parsed"]
    assert_accounted(report)
    assert cut_warnings(report, path) == [report["lines"]]
    assert any("counted as noise" in w and "retcode (250)" in w for w in report["warnings"])


def test_cut_unreadable_line_warns(tmp_path):
    text = SAMPLE.read_text()
    path = tmp_path / "cut-garbage.log"
    path.write_text(text + "Traceb")
    report = file_report(smtplogkit.read_logs(path))

    assert report["lines"] == len(text.splitlines()) + 1
    assert report["unrecognised"] == 1
    assert_accounted(report)
    assert cut_warnings(report, path) == [report["lines"]]
    # The warning about the cut line states it was counted as unrecognised, and no other warning repeats it.
    assert [w for w in report["warnings"] if w.startswith(f"{path}:{report['lines']}:")] == [
        next(w for w in report["warnings"] if CUT_WARNING in w)]
    assert any("counted as unrecognised" in w and "Traceb" in w for w in report["warnings"])


def test_last_line_read_without_line_end(tmp_path, original):
    # The last line misses only its line end: it is read as it is, without a warning.
    path = tmp_path / "no-newline.log"
    path.write_bytes(SAMPLE.read_bytes().rstrip(b"\n"))
    frame = smtplogkit.read_logs(path)
    report = file_report(frame)

    assert labels(frame) == labels(original)
    assert {key: report[key] for key in ("lines", "parsed", "noise", "unrecognised")} == {
        key: file_report(original)[key] for key in ("lines", "parsed", "noise", "unrecognised")}
    # The warnings of the file with its line end (about the missing times), and no more.
    assert [w.split(": ", 1)[1] for w in report["warnings"]] == [
        w.split(": ", 1)[1] for w in file_report(original)["warnings"]]


@pytest.mark.parametrize("ending", [b"\n", b"\r\n", b"\r"])
def test_line_ends_are_not_cut(tmp_path, ending):
    data = SAMPLE.read_bytes().replace(b"\n", ending) + b"reply: retcode (250); Msg: b'2.1.0 Ok'" + ending
    path = tmp_path / "ended.log"
    path.write_bytes(data)
    report = file_report(smtplogkit.read_logs(path))

    assert cut_warnings(report, path) == []
    assert_accounted(report)


CUT_TEXT = SAMPLE.read_text() + "reply: retcode (221); Msg: b"


def _cut_gzip(path: Path) -> Path:
    path = path.with_name("cut.log.gz")
    path.write_bytes(gzip.compress(CUT_TEXT.encode()))
    return path


def _cut_utf16(path: Path) -> Path:
    path.write_bytes(CUT_TEXT.encode("utf-16"))
    return path


def _cut_latin1(path: Path) -> Path:
    path.write_bytes(CUT_TEXT.replace("capture 1", "capture caf\xe9 1").encode("latin-1"))
    return path


def _cut_crlf(path: Path) -> Path:
    path.write_bytes(CUT_TEXT.replace("\n", "\r\n").encode())
    return path


@pytest.mark.parametrize("write", [_cut_gzip, _cut_utf16, _cut_latin1, _cut_crlf])
def test_cut_line_in_any_encoding(tmp_path, write):
    path = write(tmp_path / "cut.log")
    report = file_report(smtplogkit.read_logs(path))

    assert report["lines"] == CUT_TEXT.count("\n") + 1
    assert_accounted(report)
    assert cut_warnings(report, path) == [report["lines"]]


def test_cut_line_in_stream():
    stream = io.StringIO(CUT_TEXT)
    stream.name = "pasted.log"
    report = file_report(smtplogkit.read_logs(stream))

    assert_accounted(report)
    assert cut_warnings(report, "pasted.log") == [CUT_TEXT.count("\n") + 1]


def test_cut_line_in_each_rotation(tmp_path):
    # A rotated copy that was cut too: each file's warning names its own file and line.
    folder = tmp_path / "app"
    folder.mkdir()
    (folder / "app.log.1").write_text(CUT_TEXT)
    (folder / "app.log").write_text(SAMPLE.read_text() + "reply: retco")
    reports = smtplogkit.read_logs(folder).attrs["files"]

    assert [report["source"] for report in reports] == [str(folder / "app.log.1"), str(folder / "app.log")]
    for report in reports:
        assert_accounted(report)
        assert cut_warnings(report, report["source"]) == [report["lines"]]


@pytest.mark.parametrize("suffix, compress", [(".gz", gzip.compress), (".bz2", bz2.compress), (".xz", lzma.compress)])
def test_compressed(tmp_path, original, suffix, compress):
    path = tmp_path / f"maillog{suffix}"
    path.write_bytes(compress(SAMPLE.read_bytes()))
    frame = smtplogkit.read_logs(path)
    report = file_report(frame)

    assert labels(frame) == labels(original)
    assert report["compression"] is not None
    assert report["lines"] == file_report(original)["lines"]
    assert_accounted(report)


def test_truncated_gzip(tmp_path, original):
    path = tmp_path / "maillog.gz"
    packed = gzip.compress(SAMPLE.read_bytes())
    path.write_bytes(packed[: len(packed) // 2])
    frame = smtplogkit.read_logs(path)
    report = file_report(frame)

    assert_accounted(report)
    assert any("stopped early" in w and str(path) in w for w in report["warnings"])


def test_folder_skips_non_logs(tmp_path, original):
    (tmp_path / "README.md").write_text("# Logs from the incident\n")
    (tmp_path / "ground_truth.json").write_text('{"sessions": 1}\n')
    (tmp_path / "client.log").write_bytes(SAMPLE.read_bytes())
    frame = smtplogkit.read_logs(tmp_path)
    skipped = {Path(path).name for path, _ in frame.attrs["skipped"]}

    assert skipped == {"README.md", "ground_truth.json"}
    assert [Path(f["source"]).name for f in frame.attrs["files"]] == ["client.log"]
    assert labels(frame) == labels(original)


def test_folder_skips_listed_by_cli(tmp_path):
    (tmp_path / "README.md").write_text("# Logs\n")
    (tmp_path / "ground_truth.json").write_text("{}\n")
    (tmp_path / "client.log").write_bytes(SAMPLE.read_bytes())
    run = run_cli("parse", str(tmp_path))

    assert run.returncode == 0
    assert "skipped" in run.stdout
    assert "README.md" in run.stdout
    assert "ground_truth.json" in run.stdout


def test_missing_path_cli(tmp_path):
    missing = tmp_path / "no-such.log"
    run = run_cli("parse", str(missing))
    lines = run.stderr.strip().splitlines()

    assert run.returncode != 0
    assert len(lines) == 1
    assert str(missing) in lines[0]
    assert "no such file" in lines[0]
    assert run.stdout == ""


def test_missing_path_api(tmp_path):
    with pytest.raises(smtplogkit.InputError) as raised:
        smtplogkit.read_logs(tmp_path / "no-such.log")

    assert isinstance(raised.value, FileNotFoundError) or isinstance(raised.value, OSError)


def test_jsonl_stdout_only_json(tmp_path):
    path = tmp_path / "mixed.log"
    path.write_text(SAMPLE.read_text() + "this line is not smtplib output\n")
    run = run_cli("parse", str(path), "--jsonl")
    records = [json.loads(line) for line in run.stdout.splitlines()]

    assert run.returncode == 0
    assert len(records) == 1
    assert records[0]["cause"] == "rate_limited"
    assert "unrecognised" in run.stderr


def test_unrecognised_warning_names_line(tmp_path):
    text = SWAKS_SAMPLE.read_text().splitlines()
    text.insert(3, "garbage that swaks never prints")
    path = tmp_path / "swaks.log"
    path.write_text("\n".join(text) + "\n")
    frame = smtplogkit.read_logs(path)
    report = file_report(frame)

    assert report["unrecognised"] == 1
    assert_accounted(report)
    assert report["warnings"][0].startswith(f"{path}:4:")


def test_unknown_format_long_file(tmp_path):
    path = tmp_path / "notes.log"
    path.write_text("".join(f"note {n}: nothing to do with mail\n" for n in range(1000)))
    frame = smtplogkit.read_logs(path)
    report = file_report(frame)

    assert len(frame) == 0
    assert report["lines"] == 1000
    assert report["unrecognised"] == 1000
    assert_accounted(report)
    assert any("no known log format" in w and str(path) in w for w in report["warnings"])


def test_utf16_truncated_odd_byte(tmp_path, original):
    path = tmp_path / "utf16-cut.log"
    path.write_bytes(SAMPLE.read_text().encode("utf-16") + b"\x41")
    frame = smtplogkit.read_logs(path)
    report = file_report(frame)

    assert labels(frame) == labels(original)
    assert_accounted(report)
    assert any(str(path) in w for w in report["warnings"])


def test_utf16_big_endian(tmp_path, original):
    path = tmp_path / "utf16be.log"
    path.write_bytes(b"\xfe\xff" + SAMPLE.read_text().encode("utf-16-be"))
    frame = smtplogkit.read_logs(path)

    assert labels(frame) == labels(original)
    assert file_report(frame)["unrecognised"] == 0


def test_lone_cr_line_ends(tmp_path, original):
    path = tmp_path / "cr.log"
    path.write_bytes(SAMPLE.read_bytes().replace(b"\n", b"\r"))
    frame = smtplogkit.read_logs(path)
    report = file_report(frame)

    assert labels(frame) == labels(original)
    assert report["lines"] == file_report(original)["lines"]
    assert_accounted(report)


def test_truncated_utf8_character(tmp_path):
    data = SWAKS_SAMPLE.read_bytes() + "<~  221 Au revoir, \u00e9".encode()[:-1]
    path = tmp_path / "cut-utf8.log"
    path.write_bytes(data)
    frame = smtplogkit.read_logs(path)
    report = file_report(frame)

    assert len(frame) == 1
    assert_accounted(report)
    last = data.count(b"\n") + 1
    assert any(w.startswith(f"{path}:{last}:") for w in report["warnings"])


def test_text_stream(original):
    with SAMPLE.open(encoding="utf-8") as stream:
        frame = smtplogkit.read_logs(stream)

    assert labels(frame) == labels(original)
    assert_accounted(file_report(frame))


def test_glob_without_match_cli(tmp_path):
    run = run_cli("parse", str(tmp_path / "*.log"))
    lines = run.stderr.strip().splitlines()

    assert run.returncode != 0
    assert len(lines) == 1
    assert "matches no file" in lines[0]


def test_jsonl_unreadable_input(tmp_path):
    path = tmp_path / "core.log"
    path.write_bytes(b"\x00\x01\x02" * 100)
    run = run_cli("parse", str(path), "--jsonl")

    assert run.returncode == 0
    assert run.stdout == ""
    assert "binary" in run.stderr


# bzip2 decompresses whole blocks only, so its case uses 100 kB blocks and
# enough data for several of them.
@pytest.mark.parametrize("suffix, compress", [(".gz", gzip.compress), (".bz2", lambda data: bz2.compress(data, 1)),
                                              (".xz", lzma.compress)])
def test_compressed_truncated(tmp_path, suffix, compress):
    packed = compress(SAMPLE.read_bytes() * 100)
    path = tmp_path / f"maillog{suffix}"
    path.write_bytes(packed[: len(packed) * 2 // 3])
    frame = smtplogkit.read_logs(path)
    report = file_report(frame)

    assert_accounted(report)
    assert report["lines"] > 0
    assert any(w.startswith(f"{path}:{report['lines']}: reading stopped early") for w in report["warnings"])


@pytest.mark.parametrize("suffix, compress", [(".gz", gzip.compress), (".bz2", bz2.compress), (".xz", lzma.compress)])
def test_compressed_empty(tmp_path, suffix, compress):
    path = tmp_path / f"maillog{suffix}"
    path.write_bytes(compress(b""))
    frame = smtplogkit.read_logs(path)
    report = file_report(frame)

    assert len(frame) == 0
    assert report["lines"] == 0
    assert_accounted(report)


def test_unknown_format_name_cli(tmp_path):
    path = tmp_path / "client.log"
    path.write_bytes(SAMPLE.read_bytes())
    run = run_cli("parse", str(path), "--format", "no-such-format")
    lines = run.stderr.strip().splitlines()

    assert run.returncode != 0
    assert len(lines) == 1
    assert "unknown format" in lines[0]


def test_alternatives_read_together(tmp_path):
    data = SAMPLE.read_bytes()
    for worker in ("a", "b"):
        folder = tmp_path / worker
        folder.mkdir()
        (folder / "app.log").write_bytes(data)
        (folder / "app.log.1").write_bytes(data)
        (folder / "app.log.2.gz").write_bytes(gzip.compress(data))
        (folder / "app.log.notes").write_bytes(data)

    frame = smtplogkit.read_logs(str(tmp_path / "{worker}" / "*.log{,.[0-9]}{,.gz}"))
    names = [Path(report["source"]).relative_to(tmp_path).as_posix() for report in frame.attrs["files"]]

    assert names == ["a/app.log.2.gz", "a/app.log.1", "a/app.log", "b/app.log.2.gz", "b/app.log.1", "b/app.log"]
    assert set(frame["worker"]) == {"a", "b"}
    assert frame["worker"].notna().all()


ROTATIONS = ["app.log-20260301", "app.log-20260302.xz", "app.log.2.gz", "app.log.1.bz2", "app.log"]


def write_rotations(folder: Path) -> None:
    """Write a log and its rotations, numbered and named by date, some compressed, in ``folder``."""
    folder.mkdir(parents=True)
    data = (CAPTURES / "smtplib" / "greylisted.debug2.log").read_bytes()
    compressors = {".gz": gzip.compress, ".bz2": bz2.compress, ".xz": lzma.compress}
    for name in ROTATIONS:
        compress = compressors.get(Path(name).suffix)
        (folder / name).write_bytes(compress(data) if compress else data)


@pytest.mark.parametrize("pattern", ["{network}/{worker}/*.log", "*/*/app.log", "prod/w?/app.lo[g]",
                                     "{network}/{worker}/*.log{,.[0-9],-[0-9]*}{,.gz,.bz2,.xz}"])
def test_pattern_reads_rotations(tmp_path, pattern):
    """A pattern that matches a log reads its rotations too, as a folder read does, with the log's labels."""
    write_rotations(tmp_path / "prod" / "w1")
    (tmp_path / "prod" / "w1" / "app.log.notes").write_text("not a rotation\n")
    (tmp_path / "prod" / "w1" / "mail.1").write_bytes(SAMPLE.read_bytes())  # a rotation of a log not matched
    folder = smtplogkit.read_logs(tmp_path / "prod" / "w1")

    frame = smtplogkit.read_logs(str(tmp_path / pattern))

    names = [Path(report["source"]).name for report in frame.attrs["files"]]
    assert names == ROTATIONS
    assert [report["source"] for report in frame.attrs["files"]] == [
        report["source"] for report in folder.attrs["files"] if Path(report["source"]).name in ROTATIONS]
    assert len(frame) == len(ROTATIONS)
    if "{" in pattern:
        assert frame["network"].tolist() == ["prod"] * len(ROTATIONS)
        assert frame["worker"].tolist() == ["w1"] * len(ROTATIONS)


@pytest.mark.parametrize("paths", [["prod/w1/*.log", "prod/w1/*.log.1.bz2"], ["prod/w1", "prod/w1/app.log"],
                                   ["{network}/{worker}/app.log", "prod/w1/app.log.2.gz"]])
def test_file_named_twice_read_once(tmp_path, paths):
    # A pattern brings a log's rotations along, so two paths can name one file: it is read once.
    write_rotations(tmp_path / "prod" / "w1")
    frame = smtplogkit.read_logs([str(tmp_path / path) for path in paths])

    names = [Path(report["source"]).name for report in frame.attrs["files"]]
    assert sorted(names) == sorted(ROTATIONS)
    assert frame["session_id"].is_unique
    if "{" in paths[0]:
        assert frame["network"].tolist() == ["prod"] * len(ROTATIONS)  # the first path's labels


def test_alternatives_without_match(tmp_path):
    with pytest.raises(smtplogkit.InputError):
        smtplogkit.read_logs(str(tmp_path / "*.log{,.1}"))


def test_events_say_workers_are_ignored(tmp_path):
    path = tmp_path / "app.log"
    path.write_text("21:00:00.000001 connect: to ('smtp.example.com', 587) None\n")
    run = run_cli("parse", str(path), "--events", "--workers", "2")
    assert run.returncode == 0
    assert "--workers and --cache are ignored" in run.stderr


def _blocks_of(path: Path) -> list:
    from smtplogkit.inputs import Decoded, expand, open_blocks

    return list(open_blocks(expand(str(path)).sources[0], Decoded()))


@pytest.mark.parametrize("text", ["", "\n", "a", "a\n", "a\nb", "a\nb\n", "\n\nx\n\n", "a\n" * 70000 + "tail"])
def test_blocks_split_like_splitlines(tmp_path, text):
    path = tmp_path / "log"
    path.write_text(text)
    lines = [line for block in _blocks_of(path) for line in block]

    assert lines == text.splitlines()


def test_raw_block_lines_on_demand(tmp_path):
    from smtplogkit.inputs import RawBlock

    texts = [f"line {n}" + " x" * (n % 7) for n in range(5000)] + ["", "last"]
    path = tmp_path / "log"
    path.write_text("\n".join(texts) + "\n")
    blocks = _blocks_of(path)
    assert all(isinstance(block, RawBlock) for block in blocks)
    block = blocks[0]

    assert [block[i] for i in (0, 1, 4999, -1, -2)] == [texts[0], texts[1], texts[4999], texts[-1], texts[-2]]
    assert block.arrow().to_pylist() == [text + "\n" for text in texts]
    assert block[10:13] == texts[10:13]
    assert list(block) == texts


def test_non_ascii_block_stays_decoded(tmp_path):
    from smtplogkit.inputs import RawBlock, block_array

    texts = ["plain", "café ok", "end"]
    path = tmp_path / "log"
    path.write_text("\n".join(texts), encoding="utf-8")
    (block,) = _blocks_of(path)

    assert not isinstance(block, RawBlock)
    assert list(block) == texts
    assert [value.rstrip("\n") for value in block_array(block).to_pylist()] == texts


def test_binary_file_one_warning(tmp_path):
    path = tmp_path / "binary.log"
    path.write_bytes(bytes(range(256)) * 80)
    report = file_report(smtplogkit.read_logs(path))

    assert report["encoding"] == "binary"
    assert len(report["warnings"]) == 1
    assert "binary" in report["warnings"][0]


def test_unshown_unrecognised_counted(tmp_path):
    path = tmp_path / "app.log"
    lines = SAMPLE.read_text().splitlines()
    path.write_text("\n".join(lines[:40] + [f"garbage line {n} ~~" for n in range(12)] + lines[40:]) + "\n")
    report = file_report(smtplogkit.read_logs(path))
    unrecognised = report["unrecognised"]

    assert unrecognised >= 12
    assert sum("unrecognised line:" in warning for warning in report["warnings"]) == 5
    assert any(f"{unrecognised - 5} more unrecognised lines not shown ({unrecognised} in all)" in warning
               for warning in report["warnings"])


def test_pattern_skips_non_logs(tmp_path):
    (tmp_path / "README.md").write_text("# notes\n")
    (tmp_path / "truth.json").write_text("{}\n")
    shutil.copyfile(SAMPLE, tmp_path / "app.log")
    frame = smtplogkit.read_logs(str(tmp_path / "*"))

    assert [report["source"] for report in frame.attrs["files"]] == [str(tmp_path / "app.log")]
    assert sorted(Path(path).name for path, _ in frame.attrs["skipped"]) == ["README.md", "truth.json"]


@pytest.mark.parametrize("texts", [["a", "b", "c", "d"], ["é", "b", "", "ü"]], ids=["ascii", "utf-8"])
def test_block_after_keeps_bytes(texts):
    data = "\n".join(texts).encode("utf-8")
    if data.isascii():
        block = inputs.RawBlock(data)
    else:
        block = inputs.TextBlock(texts)
        block.data = data
    for count in range(len(texts)):
        rest = inputs.block_after(block, count)
        assert list(rest) == texts[count:]
        assert rest.data == "\n".join(texts[count:]).encode("utf-8")


@pytest.mark.parametrize("data", [b"", b"a", b"a\n", b"\n\n", b"one\ntwo\nthree"])
def test_raw_block_counts_lines(data):
    block = inputs.RawBlock(data)
    assert len(block) == len(data.decode("ascii").split("\n"))
    assert list(block) == data.decode("ascii").split("\n")


def damaged_folder(root: Path) -> dict[str, str]:
    """Write a folder with a log, a broken symbolic link and a FIFO; return each skipped path's expected reason."""
    for worker in ("w1", "w2", "w3"):
        (root / worker).mkdir(parents=True)
    (root / "w1" / "app.log").symlink_to(root / "gone")
    os.mkfifo(root / "w2" / "app.log")
    shutil.copyfile(SAMPLE, root / "w3" / "app.log")
    return {str(root / "w1" / "app.log"): f"broken symbolic link to {root / 'gone'}",
            str(root / "w2" / "app.log"): "not a regular file (FIFO)"}


@pytest.mark.parametrize("pattern", ["", "{worker}/app.log", "*/app.lo[g]"], ids=["folder", "template", "glob"])
def test_unreadable_entries_reported(tmp_path, caplog, pattern):
    """A broken link or a FIFO that a folder or pattern finds is skipped with its reason and a warning."""
    expected = damaged_folder(tmp_path / "logs")

    with caplog.at_level("WARNING", logger="smtplogkit"):
        frame = smtplogkit.read_logs(str(tmp_path / "logs" / pattern))

    assert dict(frame.attrs["skipped"]) == expected
    assert [report["source"] for report in frame.attrs["files"]] == [str(tmp_path / "logs" / "w3" / "app.log")]
    for path, reason in expected.items():
        assert sum(path in record.getMessage() and reason in record.getMessage() for record in caplog.records) == 1


def test_unreadable_entries_cli(tmp_path):
    """Named on its own, a FIFO or a broken link is an error with its reason; neither is opened."""
    expected = damaged_folder(tmp_path / "logs")

    run = run_cli("parse", str(tmp_path / "logs"))

    assert run.returncode == 0, run.stderr
    for path, reason in expected.items():
        assert f"warning: {path}: skipped, {reason}" in run.stderr
        assert f"skipped {path}: {reason}" in run.stdout + run.stderr
    for path, reason in expected.items():
        named = run_cli("parse", path)
        assert named.returncode != 0
        assert f"{path}: {reason}" in named.stderr
        assert "no such file" not in named.stderr

"""Finding input files and reading them as text lines.

This is the one place that deals with paths, label templates, compression
and character encodings.  Format parsers only ever see decoded lines.
"""

from __future__ import annotations

import bisect
import bz2
import glob
import gzip
import io
import itertools
import logging
import lzma
import os
import re
import stat
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO, Any

from .errors import InputError

logger = logging.getLogger(__name__)

# Lines per block read from an open text stream or a UTF-16 file.
STREAM_BLOCK = 4096

# Files a folder of logs often contains next to the logs themselves.
NOT_LOG_SUFFIXES = frozenset({
    ".md", ".rst", ".json", ".yaml", ".yml", ".toml", ".ini", ".cfg", ".py", ".ipynb",
    ".html", ".htm", ".png", ".jpg", ".jpeg", ".gif", ".svg", ".pdf", ".parquet", ".csv",
    ".tsv", ".xlsx", ".zip", ".tar", ".pem", ".crt", ".key", ".sh",
})
BINARY_NUL_SHARE = 100  # more than one NUL byte in this many of a file's first 64 KiB: binary
BINARY_CONTROL_SHARE = 20  # more than one control byte in this many: binary, even without NULs
# Control bytes that text logs do contain: tab, line ends, form feed, escape (colour codes).
TEXT_CONTROLS = frozenset(b"\t\n\r\x0b\x0c\x1b")
CONTROL_BYTES = bytes(b for b in [*range(32), 127] if b not in TEXT_CONTROLS)
COMPRESSED = {b"\x1f\x8b": gzip.open, b"BZh": bz2.open, b"\xfd7zXZ\x00": lzma.open}
# The reasons a path found by a folder or a pattern, or named, is not read although it is there.
BROKEN_LINK = "broken symbolic link"
NOT_REGULAR = "not a regular file"
UNREADABLE = "cannot be read"
TEMPLATE_RE = re.compile(r"\{(\w+)\}")
ALTERNATIVES_RE = re.compile(r"\{([^{}]*,[^{}]*)\}")  # shell-style "{a,b}"; a "{label}" has no comma
ROTATION_RE = re.compile(r"^(?P<base>.*?)(?:[.-](?P<n>\d+))?(?P<ext>\.(?:gz|bz2|xz))?$")
# A rotated copy of a log as logrotate and Python's RotatingFileHandler name it: maillog.1, app.log.2.gz.
ROTATED_RE = re.compile(r"^(?P<base>.+)\.(?P<n>\d{1,3})(?:\.(?:gz|bz2|xz))?$")
# A rotated copy named by logrotate's dateext option, by day or hour: maillog-20261129, app.log-2026112900.gz,
# maillog-2026-11-29 (dateformat -%Y-%m-%d), and app-20261129.log (extension .log) for the log app.log.
# A date anywhere in a file's name, which dates its lines when they carry no date of their own.
FILE_DATE_RE = re.compile(r"(20\d\d)-?(0[1-9]|1[0-2])-?(0[1-9]|[12]\d|3[01])")
DATED_RE = re.compile(r"^(?P<stem>.+?)-(?P<date>(?:19|20)\d\d-?[01]\d-?[0-3]\d(?:-?[0-2]\d)?)(?P<ext>\.log)?"
                      r"(?:\.(?:gz|bz2|xz))?$")


@dataclass(slots=True)
class Source:
    """One input to read: a file path, or an open text stream with a name.

    ``labels`` are the values a path template captured for this file.
    """

    name: str
    path: Path | None = None
    stream: IO[str] | None = None
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Chain(Source):
    """Rotations of one log (``maillog.2.gz``, ``maillog.1``, ``maillog``), read as one stream, oldest first.

    ``path`` is the newest file's, whose modification time dates the last
    line.  :func:`open_blocks` records in ``reading`` where each file starts
    in the joined stream.
    """

    parts: list[Source] = field(default_factory=list)
    reading: ChainReading | None = None
    # Called with a file's index in ``parts`` and the number of its first line in the joined stream
    # as :func:`open_blocks` opens it (see ``rotations.ChainContext``, which dates each file by its name).
    opened: Callable[[int, int], None] | None = None


@dataclass(slots=True)
class ChainReading:
    """The findings of one read of a :class:`Chain` for each of its files, by index in ``Chain.parts``.

    ``starts`` contains the number of each file's first line in the joined
    stream, for the files opened so far, and ``decoded`` their encodings.
    The reader adds the lines it handed to the parser (``yielded``), the
    lines a format's prefilter counted as parsed without handing them on
    (``passed``), the lines the parser counted as noise or unrecognised, and
    the warnings about single lines.
    """

    starts: list[int] = field(default_factory=list)
    decoded: list[Decoded] = field(default_factory=list)
    yielded: list[int] = field(default_factory=list)
    passed: list[int] = field(default_factory=list)
    noise: list[int] = field(default_factory=list)
    unrecognised: list[int] = field(default_factory=list)
    warnings: list[list[str]] = field(default_factory=list)

    def part_of(self, number: int) -> int:
        """Return the index of the file that contains line ``number`` of the joined stream."""
        return bisect.bisect_right(self.starts, number) - 1


@dataclass(slots=True)
class Expansion:
    """The result of expanding the caller's paths: what to read, what was skipped."""

    sources: list[Source] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def name_date(name: str) -> date | None:
    """Return the date a file's name carries (``relay/2026-03-02.log``, ``app.log-20260302.xz``), or None."""
    match = FILE_DATE_RE.search(os.path.basename(name))
    if not match:
        return None
    try:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None


def dated_copy(name: str) -> tuple[str, str] | None:
    """Return the log's name and the date (digits only) of a copy named by date, or None for another name."""
    match = DATED_RE.match(name)
    if match is None:
        return None
    return match["stem"] + (match["ext"] or ""), match["date"].replace("-", "")


def _rotation_key(path: Path) -> tuple:
    """Order rotated logs oldest first: ``maillog-20261122``, ``maillog.2.gz``, ``maillog.1``, ``maillog``."""
    dated = dated_copy(path.name)
    if dated:
        return (str(path.parent), dated[0], (0, dated[1]))
    match = ROTATION_RE.match(path.name)
    number = int(match.group("n")) if match and match.group("n") and len(match.group("n")) < 4 else -1
    base = match.group("base") if match and number >= 0 else path.name
    return (str(path.parent), base, (1, -number))


def group_rotations(sources: list[Source]) -> list[Source]:
    """Return ``sources`` with each run of rotations of one log joined into a :class:`Chain`.

    A run is files in one folder with the same labels whose names are the
    log's name followed by consecutive numbers (``maillog.3.xz``,
    ``maillog.2.gz``, ``maillog.1``) and, if present, the log itself
    (``maillog``).  A gap in the numbers ends a run, because the lines in
    between are missing.  Copies named by date (``maillog-20261122``,
    ``maillog-20261129.gz``) make a run in date order with the log itself,
    unless numbered copies of the same log exist too.  Dates can't show a
    gap, so none ends such a run.  A chain takes the place of its oldest file
    and is read oldest first; other sources keep their order.
    """
    families: dict[tuple, list[tuple[int, int]]] = {}  # (folder, log name, labels) -> [(rotation number, index)]
    dated: dict[tuple, list[tuple[str, int]]] = {}  # the same key -> [(date in the name, index)]
    for index, source in enumerate(sources):
        if source.path is None or isinstance(source, Chain):
            continue
        labels = tuple(sorted(source.labels.items()))
        stamped = dated_copy(source.path.name)
        if stamped:
            dated.setdefault((str(source.path.parent), stamped[0], labels), []).append((stamped[1], index))
            continue
        rotated = ROTATED_RE.match(source.path.name)
        number, base = (int(rotated["n"]), rotated["base"]) if rotated else (0, source.path.name)
        families.setdefault((str(source.path.parent), base, labels), []).append((number, index))

    chained: dict[int, Chain] = {}  # index of a chain's oldest file -> the chain
    members: set[int] = set()
    for family in families.values():
        family.sort(reverse=True)  # oldest (highest number) first, the live log (0) last
        run = [family[0]]
        for item in family[1:] + [(None, None)]:
            if item[0] is not None and run[-1][0] - item[0] == 1:
                run.append(item)
                continue
            if len(run) > 1:
                _chain([index for _, index in run], sources, chained, members)
            run = [item]
    for key, copies in dated.items():
        family = families.get(key, [])
        if any(number > 0 for number, _ in family):
            continue  # numbered and dated copies of one log: their order is unknown
        run = [index for _, index in sorted(copies)] + [index for _, index in family]
        if len(run) > 1:
            _chain(run, sources, chained, members)
    return [chained.get(index, source) for index, source in enumerate(sources)
            if index in chained or index not in members]


def _chain(run: list[int], sources: list[Source], chained: dict[int, Chain], members: set[int]) -> None:
    """Join the sources at the positions ``run``, oldest first, into one :class:`Chain` kept in ``chained``."""
    parts = [sources[index] for index in run]
    chained[run[0]] = Chain(f"{parts[0].name} to {parts[-1].name}", parts[-1].path, labels=dict(parts[0].labels),
                            parts=parts)
    members.update(run)


def _template_to_glob(template: str) -> tuple[str, re.Pattern | None]:
    names = TEMPLATE_RE.findall(template)
    if not names:
        return template, None
    pattern_parts = []
    last = 0
    for match in TEMPLATE_RE.finditer(template):
        literal = template[last:match.start()]
        pattern_parts.append(_glob_literal_to_regex(literal))
        pattern_parts.append(f"(?P<{match.group(1)}>[^/]+)")
        last = match.end()
    pattern_parts.append(_glob_literal_to_regex(template[last:]))
    return TEMPLATE_RE.sub("*", template), re.compile("^" + "".join(pattern_parts) + "$")


def _glob_literal_to_regex(text: str) -> str:
    out = []
    index = 0
    while index < len(text):
        char = text[index]
        close = text.find("]", index + 2) if char == "[" else -1
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif close != -1:
            # A character class such as [0-9] or [!.]; glob writes negation with "!".
            members = text[index + 1:close]
            negated = members.startswith("!")
            members = re.escape(members[1:] if negated else members).replace("\\-", "-")
            out.append(f"[{'^' if negated else ''}{members}]")
            index = close
        else:
            out.append(re.escape(char))
        index += 1
    return "".join(out)


def expand(paths: Any) -> Expansion:
    """Expand files, folders, globs, ``{label}`` templates and open streams.

    A pattern may list alternatives as the shell does: ``{network}/*.log{,.1}``
    matches ``*.log`` and ``*.log.1``.  The matches of all alternatives are
    read together, each log's rotations oldest first.  A file a pattern
    matches brings its rotated copies in the same folder along, with its
    labels: ``logs/*.log`` also reads ``app.log.1.bz2`` and
    ``app.log-20260301`` next to ``app.log``.  A file that several paths
    or patterns name is read once, with the labels of the first.

    Folders are searched recursively; files whose suffix marks them as
    something other than a log (README, JSON ground truth, notebooks, images)
    are skipped and listed in ``Expansion.skipped``, as are broken symbolic
    links, FIFOs, sockets and devices (see :func:`unreadable_reason`), which
    are never opened.  The caller logs them (:func:`log_skipped`).  Raises
    :class:`InputError` when a named path does not exist, is one of those,
    or a glob matches nothing.
    """
    if isinstance(paths, (str, os.PathLike)) or hasattr(paths, "read"):
        paths = [paths]
    result = Expansion()
    for item in paths:
        if hasattr(item, "read"):
            result.sources.append(Source(getattr(item, "name", "<stream>") if isinstance(getattr(item, "name", None), str) else "<stream>", stream=item))
            continue
        _expand_one(str(item), result)
    _drop_repeats(result)
    return result


def _drop_repeats(result: Expansion) -> None:
    """Keep one source per file: the first, with its labels, when several paths or patterns name the same file."""
    seen: set[str] = set()
    unique: list[Source] = []
    for source in result.sources:
        if source.path is not None:
            real = os.path.realpath(source.path)
            if real in seen:
                logger.info("%s: named more than once, read once", source.name)
                continue
            seen.add(real)
        unique.append(source)
    result.sources[:] = unique


def _expand_one(item: str, result: Expansion) -> None:
    alternatives = _alternatives(item)
    if len(alternatives) == 1 and not TEMPLATE_RE.search(item) and not glob.has_magic(item):
        path = Path(item)
        reason = unreadable_reason(path)
        if reason is not None:
            raise InputError(item, reason)
        if path.is_dir():
            _expand_folder(path, result)
        elif path.is_file():
            result.sources.append(Source(str(path), path))
        else:
            raise InputError(item, "no such file or folder")
        return

    # Each match keeps the labels of the first alternative that matched it.
    found: dict[str, dict[str, str]] = {}
    for alternative in alternatives:
        pattern, template = _template_to_glob(alternative)
        for match in glob.glob(pattern, recursive=True):
            if match in found:
                continue
            labeled = template.match(match) if template is not None else None
            found[match] = labeled.groupdict() if labeled else {}
    if not found:
        raise InputError(item, "the pattern matches no file")
    _add_rotations(item, found)
    for match in sorted(found, key=lambda p: _rotation_key(Path(p))):
        path = Path(match)
        if path.is_dir():
            _expand_folder(path, result, found[match])
            continue
        # A pattern such as logs/* also matches a README, as a folder read does, and glob matches broken links.
        reason = unreadable_reason(path) or _not_a_log(path)
        if reason is None and not path.is_file():
            reason = "not found when read: removed after the pattern matched it"
        if reason is not None:
            result.skipped.append((str(path), reason))
            continue
        result.sources.append(Source(str(path), path, labels=found[match]))


def rotation_of(name: str) -> str | None:
    """Return the name of the log that a file named ``name`` is a rotated copy of, or None.

    ``app.log.1``, ``app.log.2.gz``, ``app.log-20260301``, ``app.log-20260302.xz`` and
    ``app-20260301.log`` are rotated copies of ``app.log``.
    """
    dated = dated_copy(name)
    if dated is not None:
        return dated[0]
    rotated = ROTATED_RE.match(name)
    return rotated["base"] if rotated else None


def _add_rotations(pattern: str, found: dict[str, dict[str, str]]) -> None:
    """Add to ``found`` the rotated copies of each file a pattern matched, with that file's labels.

    A pattern such as ``logs/{network}/*.log`` names the live logs, and their
    rotations (``app.log.1.bz2``, ``app.log-20260301``) belong to them, as a
    folder read groups them.  A copy the pattern matched itself keeps its own labels.
    """
    logs: dict[str, dict[str, str]] = {}  # folder -> {name of a matched file: the match as glob gave it}
    for match in found:
        folder, name = os.path.split(match)
        logs.setdefault(folder, {})[name] = match
    added: list[str] = []
    for folder, names in logs.items():
        try:
            entries = sorted(entry.name for entry in os.scandir(folder or "."))
        except OSError:
            continue
        for entry in entries:
            log = rotation_of(entry)
            path = os.path.join(folder, entry)
            if log in names and path not in found:
                found[path] = dict(found[names[log]])
                added.append(path)
    if added:
        logger.info("%s: also reading the rotations of the files it matches: %s", pattern, ", ".join(added))


def _alternatives(pattern: str) -> list[str]:
    """Return the patterns that shell-style alternatives stand for: ``a.log{,.gz}`` gives ``a.log`` and ``a.log.gz``."""
    match = ALTERNATIVES_RE.search(pattern)
    if match is None:
        return [pattern]
    head, tail = pattern[:match.start()], pattern[match.end():]
    return [expanded for choice in match.group(1).split(",") for expanded in _alternatives(head + choice + tail)]


def _expand_folder(folder: Path, result: Expansion, labels: dict[str, str] | None = None) -> None:
    files = sorted((p for p in folder.rglob("*") if not p.is_dir()), key=_rotation_key)
    for path in files:
        if any(part.startswith(".") for part in path.relative_to(folder).parts):
            result.skipped.append((str(path), "hidden file"))
            continue
        reason = unreadable_reason(path) or _not_a_log(path)
        if reason is not None:
            result.skipped.append((str(path), reason))
            continue
        result.sources.append(Source(str(path), path, labels=dict(labels or {})))


def unreadable_reason(path: Path) -> str | None:
    """Return why ``path`` cannot be read as a log (a broken symbolic link, a FIFO, a socket or a device), or None.

    None also for a path that does not exist.  The file is never opened,
    because opening a FIFO blocks until something writes to it.
    """
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        if os.path.islink(path):
            return f"{BROKEN_LINK} to {os.readlink(path)}"
        return None
    except OSError as error:  # a loop of symbolic links, or a folder that may not be searched
        return f"{UNREADABLE}: {error.strerror or error}"
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    kinds = ((stat.S_ISFIFO, "FIFO"), (stat.S_ISSOCK, "socket"), (stat.S_ISCHR, "character device"),
             (stat.S_ISBLK, "block device"))
    kind = next((name for test, name in kinds if test(mode)), "unknown type")
    return f"{NOT_REGULAR} ({kind})"


def log_skipped(skipped: Iterable[tuple[str, str]]) -> None:
    """Log each skipped path with its reason: a warning for one that cannot be read, else an info line."""
    for path, reason in skipped:
        if reason.startswith((BROKEN_LINK, NOT_REGULAR, UNREADABLE)):
            logger.warning("%s: skipped, %s", path, reason)
        else:
            logger.info("skipped %s: %s", path, reason)


def _not_a_log(path: Path) -> str | None:
    """Return why a file found by a folder or pattern is not read as a log (its suffix or name), or None."""
    suffixes = [s.lower() for s in path.suffixes if s.lower() not in (".gz", ".bz2", ".xz")]
    suffix = suffixes[-1] if suffixes else ""
    if suffix in NOT_LOG_SUFFIXES or path.name.upper().startswith(("README", "LICENSE")):
        return f"not a log ({suffix or path.name})"
    return None


class TextBlock(list):
    """A block of decoded lines that also keeps its UTF-8 bytes, lines joined by LF, as ``data``.

    A format's prefilter can hand ``data`` to pyarrow, which splits it
    without a Python string per line.
    """

    __slots__ = ("data",)


class RawBlock(Sequence):
    """A block of ASCII lines kept as the bytes they were read as, each line decoded on request.

    ``data`` contains the lines joined by LF.  A format's prefilter reads the
    whole block through :meth:`arrow` and requests only the lines it keeps,
    so most lines of a large log never become Python strings.  Iterating or
    slicing decodes the whole block once.
    """

    __slots__ = ("data", "_count", "_starts", "_lines", "_array")

    def __init__(self, data: bytes) -> None:
        import numpy as np

        self.data = data
        # numpy counts newlines about six times faster than bytes.count (0.12 against 0.76 ms per MiB here).
        self._count = int(np.count_nonzero(np.frombuffer(data, dtype=np.uint8) == 10)) + 1
        self._starts: list[int] | None = None
        self._lines: list[str] | None = None
        self._array = None

    def __len__(self) -> int:
        return self._count

    def lines(self) -> list[str]:
        """Return every line of the block, decoded once and kept."""
        if self._lines is None:
            self._lines = self.data.decode("ascii").split("\n")
        return self._lines

    def __iter__(self) -> Iterator[str]:
        return iter(self.lines())

    def __getitem__(self, index):
        if self._lines is not None or isinstance(index, slice):
            return self.lines()[index]
        starts = self._starts
        if starts is None:
            starts = self._starts = self.offsets().tolist()
        if index < 0:
            index += self._count
        return self.data[starts[index]:starts[index + 1] - 1].decode("ascii")

    def lines_at(self, positions: list[int]) -> list[str]:
        """Return the lines at ``positions``, decoded in one pass."""
        if self._lines is not None:
            lines = self._lines
            return [lines[position] for position in positions]
        import pyarrow as pa
        import pyarrow.compute as pc

        kept = self.arrow().take(pa.array(positions, type=pa.int64()))
        return pc.utf8_slice_codeunits(kept, 0, -1).to_pylist()  # without the LF

    def offsets(self):
        """Return a numpy array of ``len(self) + 1`` offsets: line ``i`` is ``data[o[i]:o[i + 1] - 1]``."""
        import numpy as np

        ends = np.flatnonzero(np.frombuffer(self.data, dtype=np.uint8) == 10)
        offsets = np.empty(self._count + 1, dtype=np.int32 if len(self.data) < 1 << 31 else np.int64)
        offsets[0] = 0
        offsets[1:-1] = ends + 1
        offsets[-1] = len(self.data) + 1
        return offsets

    def arrow(self):
        """Return the lines as a pyarrow string array without copying them; every value ends with its LF.

        The array is made once and kept.
        """
        if self._array is None:
            import pyarrow as pa

            offsets = self.offsets()
            kind = pa.string() if offsets.dtype.itemsize == 4 else pa.large_string()
            buffers = [None, pa.py_buffer(offsets), pa.py_buffer(self.data + b"\n")]
            self._array = pa.Array.from_buffers(kind, self._count, buffers)  # ASCII, so valid UTF-8
        return self._array


def block_after(block: Sequence[str], count: int) -> Sequence[str]:
    """Return the lines of a block after the first ``count``, keeping its bytes if it has them (a prefilter reads those)."""
    data = getattr(block, "data", None)
    if data is None:
        return block[count:]
    start = 0
    for _ in range(count):
        start = data.index(b"\n", start) + 1
    if isinstance(block, RawBlock):
        return RawBlock(data[start:])
    rest = TextBlock(block[count:])
    rest.data = data[start:]
    return rest


def block_array(block: Sequence[str]):
    """Return a block of lines as a pyarrow array, without copying a :class:`RawBlock`'s bytes.

    Values of a :class:`RawBlock` end with their LF, so a regular expression
    run over them should not end in ``$``.
    """
    import pyarrow as pa

    if isinstance(block, RawBlock):
        return block.arrow()
    data = getattr(block, "data", None)
    if data is not None:
        return RawBlock(data).arrow()
    return pa.array(block, type=pa.string())


@dataclass(slots=True)
class Decoded:
    """The encoding and compression a file was read with, for the per-file report."""

    encoding: str = "utf-8"
    compression: str | None = None
    warnings: list[str] = field(default_factory=list)
    # Number of the last line when the file ends without a line end (LF, CRLF or CR), as a file copied
    # while it was being written often does.  Set once the last block has been read.
    cut: int | None = None


def open_lines(source: Source, decoded: Decoded) -> Iterator[str]:
    """Yield the lines of a source, decompressed and decoded, without line ends.

    Encodings: UTF-8 (with or without BOM), UTF-16 with BOM, and latin-1 as the
    fallback for bytes that are not UTF-8 (a warning is recorded).  A file
    without a UTF-16 BOM whose first 64 KiB are more than 1% NUL bytes, or more
    than 5% other control bytes, is reported as binary and yields nothing.  Fewer NUL bytes are read as
    U+FFFD.  CRLF and lone CR line ends are accepted.  When the last line has no line end, its number is
    recorded in ``decoded.cut`` once the last line has been yielded and the next one is asked for.
    """
    for block in open_blocks(source, decoded):
        yield from block


def open_blocks(source: Source, decoded: Decoded) -> Iterator[list[str]]:
    """Yield the lines of a source as lists of consecutive lines, as :func:`open_lines` reads them.

    A caller can iterate over the blocks with ``itertools.chain`` instead of
    resuming a generator for every line. A block of plain UTF-8 text is
    decoded and split in one call.  A :class:`Chain` yields its files' lines
    one after the other; each file has its own :class:`Decoded` in
    ``source.reading``.
    """
    if isinstance(source, Chain):
        yield from _chain_blocks(source)
        return
    if source.stream is not None:
        stream = iter(source.stream)
        count = 0
        while True:
            raws = list(itertools.islice(stream, STREAM_BLOCK))
            if not raws:
                return
            count += len(raws)
            if not raws[-1].endswith(("\n", "\r")):
                decoded.cut = count  # only the last line of a stream can lack its line end
            yield [raw.rstrip("\r\n") for raw in raws]

    path = source.path
    assert path is not None
    try:
        with open(path, "rb") as handle:
            head = handle.read(8)
    except OSError as error:
        raise InputError(source.name, error.strerror or str(error)) from error

    opener = open
    for magic, function in COMPRESSED.items():
        if head.startswith(magic):
            opener = function
            decoded.compression = function.__module__
            break

    try:
        with opener(path, "rb") as handle:
            reader = _Tolerant(handle)
            count = 0
            for block in _decode_stream(reader, source.name, decoded):
                count += len(block)
                yield block
            if reader.error is not None:
                message = f"{source.name}:{count}: reading stopped early after this line: {reader.error}"
                decoded.warnings.append(message)
                logger.warning("%s", message)
            elif decoded.encoding not in ("binary", "utf-16") and reader.last not in (b"", b"\n", b"\r"):
                decoded.cut = count  # the warning above reports a line cut short when reading failed
    except OSError as error:
        decoded.warnings.append(f"{source.name}: reading stopped early: {error}")
        logger.warning("%s: reading stopped early: %s", source.name, error)


def _chain_blocks(chain: Chain) -> Iterator[list[str]]:
    reading = chain.reading = ChainReading()
    number = 1
    for part in chain.parts:
        decoded = Decoded()
        reading.starts.append(number)
        reading.decoded.append(decoded)
        for name in ("yielded", "passed", "noise", "unrecognised"):
            getattr(reading, name).append(0)
        reading.warnings.append([])
        if chain.opened is not None:
            chain.opened(len(reading.starts) - 1, number)
        for block in open_blocks(part, decoded):
            number += len(block)
            yield block


def _decode_stream(handle: IO[bytes], name: str, decoded: Decoded) -> Iterator[list[str]]:
    head = handle.read(65536)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        decoded.encoding = "utf-16"
        yield from _blocks(_decode_utf16(head, handle, name, decoded))
        return
    # A few NUL bytes are garbage inside a text log, such as the TLS alert PHPMailer prints as a
    # reply.  Many of them mean a binary file, or UTF-16 without a byte order mark.
    controls = len(head) - len(head.translate(None, CONTROL_BYTES))
    if head.count(b"\x00") * BINARY_NUL_SHARE > len(head) or controls * BINARY_CONTROL_SHARE > len(head):
        decoded.encoding = "binary"
        message = f"{name}: binary data (control bytes and no UTF-16 byte order mark), not read"
        decoded.warnings.append(message)
        logger.warning("%s", message)
        return

    encoding = "utf-8-sig" if head.startswith(b"\xef\xbb\xbf") else "utf-8"
    fallback_line: int | None = None
    number = 0
    for chunk, long_line in _byte_chunks(head, handle):
        if not long_line and b"\r" not in chunk and b"\x00" not in chunk:
            if chunk.isascii():
                # The common case: lines kept as bytes until a parser requests them.
                block = RawBlock(chunk)
                number += len(block)
                encoding = "utf-8"
                yield block
                continue
            # A newline byte never occurs inside a UTF-8 sequence, so the
            # chunk decodes exactly when each of its lines does.
            try:
                block = TextBlock(chunk.decode(encoding).split("\n"))
            except UnicodeDecodeError:
                pass
            else:
                block.data = chunk
                number += len(block)
                encoding = "utf-8"
                yield block
                continue
        raws = (chunk,) if long_line else chunk.split(b"\n")
        block = []
        for raw in raws:
            for part in (raws if long_line else _split_cr(raw)):
                number += 1
                try:
                    text = part.decode(encoding)
                except UnicodeDecodeError:
                    text = part.decode("latin-1")
                    if fallback_line is None:
                        fallback_line = number
                encoding = "utf-8"
                block.append(text.rstrip("\r\n").replace("\x00", "\ufffd"))
        yield block
    decoded.encoding = "utf-8" if fallback_line is None else "utf-8 with latin-1 fallback"
    if fallback_line is not None:
        message = f"{name}:{fallback_line}: bytes that are not UTF-8, read as latin-1 from this line on where needed"
        decoded.warnings.append(message)
        logger.warning("%s", message)


def _blocks(lines: Iterator[str]) -> Iterator[list[str]]:
    while True:
        block = list(itertools.islice(lines, STREAM_BLOCK))
        if not block:
            return
        yield block


def _decode_utf16(head: bytes, handle: IO[bytes], name: str, decoded: Decoded) -> Iterator[str]:
    """Yield the lines of UTF-16 text, replacing bytes that do not decode.

    A cut file can end in half a code unit, and a damaged one can contain
    lone surrogates.  The first line with such bytes gets a warning.
    """
    stream = io.BufferedReader(_Prepend(head, handle))
    text = io.TextIOWrapper(stream, encoding="utf-16", errors="replace", newline=None)
    warned = False
    for number, raw in enumerate(text, 1):
        if "\ufffd" in raw and not warned:
            warned = True
            message = f"{name}:{number}: bytes that are not valid UTF-16, replaced with U+FFFD"
            decoded.warnings.append(message)
            logger.warning("%s", message)
        if not raw.endswith("\n"):  # line ends read as LF; only the last line can lack one
            decoded.cut = number
        yield raw.rstrip("\r\n")


def _byte_chunks(head: bytes, handle: IO[bytes]) -> Iterator[tuple[bytes, bool]]:
    """Yield a byte stream as chunks of about a megabyte of whole lines, split at LF only.

    Each chunk is its lines joined by LF, without the last one's LF, and
    comes with False.  A single line longer than 64 MiB comes alone, with
    True.
    """
    buffer = head
    while True:
        piece = handle.read(1 << 20)
        if not piece:
            break
        buffer += piece
        cut = buffer.rfind(b"\n")
        if cut >= 0:
            yield buffer[:cut], False
            buffer = buffer[cut + 1:]
        elif len(buffer) > 64 << 20:
            yield buffer, True  # one over-long line, not split at CR
            buffer = b""
    if buffer.endswith(b"\n"):
        buffer = buffer[:-1]  # only the head was read, and it ends with a whole line
    elif not buffer:
        return
    yield buffer, False


def _split_cr(raw: bytes) -> Iterable[bytes]:
    if b"\r" in raw[:-1]:
        return raw.rstrip(b"\r").split(b"\r")
    return (raw,)


class _Tolerant:
    """A binary reader that ends the stream at a read error instead of raising.

    A truncated or corrupt .gz, .bz2 or .xz file raises only when the
    decompressor runs out of input, so reading in small pieces keeps every
    line before that point.  The error is kept in ``error``.
    """

    PIECE = 1 << 16

    def __init__(self, handle: IO[bytes]) -> None:
        self._handle = handle
        self._failed = False
        self.error: Exception | None = None
        self.last = b""  # the last byte read so far

    def read(self, size: int = -1) -> bytes:
        pieces = []
        wanted = size if size >= 0 else float("inf")
        while wanted > 0 and not self._failed:
            piece = self._read_piece(int(min(wanted, self.PIECE)))
            if not piece:
                break
            pieces.append(piece)
            wanted -= len(piece)
            self.last = piece[-1:]
        return b"".join(pieces)

    def _read_piece(self, size: int) -> bytes:
        try:
            return self._handle.read1(size) if hasattr(self._handle, "read1") else self._handle.read(size)
        except (OSError, EOFError, lzma.LZMAError, zlib.error) as error:
            self._failed = True
            self.error = error
            return b""


class _Prepend(io.RawIOBase):
    """A raw stream that replays bytes already read before the rest of a handle."""

    def __init__(self, head: bytes, handle: IO[bytes]) -> None:
        self._head = head
        self._handle = handle

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._head:
            size = min(len(buffer), len(self._head))
            buffer[:size] = self._head[:size]
            self._head = self._head[size:]
            return size
        data = self._handle.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

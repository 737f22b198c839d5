"""Reading text files with errors that name the file, line and column (never a UnicodeDecodeError traceback)."""

from __future__ import annotations

from pathlib import Path

from orchestrator.errors import RaywardError


def decode_position(data: bytes, offset: int) -> tuple[int, int]:
    """1-based (line, column) of byte ``offset`` in ``data``."""
    line = data.count(b"\n", 0, offset) + 1
    start = data.rfind(b"\n", 0, offset) + 1
    return line, offset - start + 1


def read_utf8(path: str | Path, error: type[RaywardError], what: str = "file") -> str:
    """The file's text; a file that is not UTF-8 raises ``error`` naming the file, line, column and byte."""
    file = Path(path)
    data = file.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line, col = decode_position(data, exc.start)
        raise error(
            f"{file}:{line}:{col}: {what} is not UTF-8 text (byte 0x{data[exc.start]:02x}); save it as UTF-8"
        ) from None
    return text.removeprefix("\ufeff")

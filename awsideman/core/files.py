"""Private folders (everything awsideman creates under its home is for the user alone) and
bounded reads of untrusted input."""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO


def make_private_dirs(path: Path) -> None:
    """Create `path` and any missing parents as 0700 (Path.mkdir gives parents the umask's mode)."""
    missing = []
    current = path
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:  # created meanwhile by another process: fine, it is not ours to chmod
            continue
        os.chmod(folder, 0o700)  # mkdir's mode is filtered by the umask


def read_limited(stream: BinaryIO, max_bytes: int, chunk: int = 1024 * 1024) -> bytes | None:
    """Up to ``max_bytes`` from ``stream``, or None when it holds more (a file, pipe or device).

    Reads in chunks and stops one byte past the limit, so an endless source (``/dev/zero``, a
    pipe that never closes its end early) costs at most ``max_bytes`` of memory, never more.
    """
    parts: list[bytes] = []
    total = 0
    while total <= max_bytes:
        part = stream.read(min(chunk, max_bytes + 1 - total))
        if not part:
            return b"".join(parts)
        parts.append(part)
        total += len(part)
    return None

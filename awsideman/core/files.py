"""Private folders: everything awsideman creates under its home is for the user alone."""

from __future__ import annotations

import os
from pathlib import Path


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

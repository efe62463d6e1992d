"""Size limits on everything read from outside: manifests, payloads, pasted text.

Backups sit in folders and buckets others can write to, and error text is pasted from
anywhere, so every read is bounded before it is parsed. The defaults are generous (far above
any real instance); a limit that is hit is a clear error naming the setting to raise.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from awsideman.core.config_section import ConfigSection, is_number

MIB = 1024 * 1024


@dataclass(frozen=True)
class Limits(ConfigSection):
    """`limits:` in the config, in MiB."""

    section = "limits"

    manifest_mib: float = 16        # manifest.json as stored
    payload_mib: float = 1024       # snapshot.json.gz as stored (compressed, maybe encrypted)
    snapshot_mib: float = 4096      # the snapshot JSON after decompression
    text_mib: float = 20            # analyze-error TEXT, stdin and --file

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any] | None) -> Limits:
        """Build from the config's `limits:` mapping; unknown keys and non-numbers raise ValueError."""
        values = cls.known_values(data)
        for key, value in values.items():
            if not is_number(value) or not math.isfinite(value) or value <= 0:
                raise ValueError(f"{key}: must be a positive number of MiB, got {value!r}")
        return cls(**values)

    def bytes(self, name: str) -> int:
        """The limit `name` (e.g. ``"payload_mib"``) in bytes."""
        return int(getattr(self, name) * MIB)


def describe(limit_bytes: int) -> str:
    """A limit as people read it: ``20 MiB``, ``512 KiB``."""
    if limit_bytes >= MIB:
        return f"{limit_bytes / MIB:g} MiB"
    return f"{limit_bytes / 1024:g} KiB"

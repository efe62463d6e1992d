"""Per-invocation state: the global flags, loaded settings and the renderer."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from awsideman.core.exceptions import UsageError
from awsideman.render import Renderer

# The config module (its sections' parsers) is loaded by the first command that asks for the
# settings: the help never does.
if TYPE_CHECKING:
    from awsideman.config import Settings

OUTPUTS = ("text", "json")


@dataclass
class AppState:
    """What the root callback parsed; commands ask it for settings and a renderer."""

    profile: str | None = None
    region: str | None = None
    config: str | None = None
    output: str | None = None
    quiet: bool = False
    debug: bool = False
    no_color: bool = False
    metrics_file: str | None = None
    state: str | None = None
    _settings: Settings | None = field(default=None, repr=False)

    def set_output(self, value: str) -> None:
        if value not in OUTPUTS:
            raise UsageError(f"--output must be one of {', '.join(OUTPUTS)}, not {value!r}")
        self.output = value

    def effective_output(self) -> str:
        value = self.output or os.environ.get("AWSIDEMAN_OUTPUT") or "text"
        if value not in OUTPUTS:
            raise UsageError(f"AWSIDEMAN_OUTPUT must be one of {', '.join(OUTPUTS)}, not {value!r}")
        return value

    def renderer(self) -> Renderer:
        no_color = self.no_color or bool(os.environ.get("NO_COLOR"))
        return Renderer(output=self.effective_output(), quiet=self.quiet, no_color=no_color,
                        debug=self.debug)

    def settings(self) -> Settings:
        """Load and validate configuration once (flags win over env, env over file)."""
        if self._settings is None:
            from awsideman.config import load_settings

            self._settings = load_settings(config_path=self.config, profile=self.profile,
                                           region=self.region, state=self.state)
        return self._settings

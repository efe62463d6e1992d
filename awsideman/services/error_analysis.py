"""The error analyser as the cli builds it: with the AWS SDK's exceptions known to it.

The core's analyser reads a botocore exception (or pasted text naming one) only through the
reader the adapters register when they are imported (``adapters/error_facts.py``). A command
path that has imported no adapter yet (``analyze-error``, a failure before any AWS call) gets
that registration here, and the cli itself never imports an adapter.
"""

from __future__ import annotations

from awsideman.core.errors import ErrorAnalyzer


def error_analyzer(profile: str | None = None, region: str | None = None) -> ErrorAnalyzer:
    """An ``ErrorAnalyzer`` whose advice names ``profile`` and ``region``, botocore's facts registered."""
    import awsideman.adapters  # noqa: F401 - the import registers botocore's reader and exception names

    return ErrorAnalyzer(profile=profile, region=region)

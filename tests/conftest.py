"""Shared test setup: the sandbox emulator fixtures (`sandbox`, `served_sandbox`) and pytester."""

pytest_plugins = ["awsideman.sandbox.pytest_plugin", "pytester"]

"""Orchestration: backup, report. Plain Python, no terminal."""

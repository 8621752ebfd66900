"""Runnable examples: ``python -m examples.NAME`` from the repository root.

Each one talks to the real Gemini API when ``GEMINI_API_KEY`` is set and otherwise starts the
bundled emulator in-process, so every example works offline.
"""

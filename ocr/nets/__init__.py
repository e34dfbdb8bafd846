"""Torch network definitions, used only by export and training (never by inference)."""

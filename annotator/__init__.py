"""Trace Annotator: label LLM reasoning traces as legitimate use or suspected distillation."""

__version__ = "0.1.0"

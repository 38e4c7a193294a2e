"""Responsible-use tools: the invisible watermark and synthetic-content labels on generated images."""

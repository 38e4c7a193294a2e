"""Responsible-use pieces every wing shares: the payload a mark carries (model id + error-correcting
code), synthetic-content labels, provenance sidecars. Each wing brings the mark that suits its data
(images/watermark.py for pixels)."""

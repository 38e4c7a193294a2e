"""Differential privacy for table models: DP-SGD training (Opacus, dp.py) and DP metadata; the package
itself imports nothing heavy, so the command line starts without torch."""

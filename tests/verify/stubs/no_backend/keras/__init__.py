"""Stands in for keras whose backend (here torch) is not installed."""

raise ModuleNotFoundError("No module named 'torch'", name="torch")

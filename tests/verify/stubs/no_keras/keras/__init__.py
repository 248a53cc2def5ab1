"""Stands in for an environment without keras: importing it fails as a missing keras would."""

raise ModuleNotFoundError("No module named 'keras'", name="keras")

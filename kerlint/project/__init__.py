"""Whole-project analysis: the project index (root, module map, imports) and its modules."""

from kerlint.project.index import ModuleFile, ProjectIndex, find_root
from kerlint.project.modules import ModuleRecord, Project, Resolver

__all__ = ["ModuleFile", "ModuleRecord", "Project", "ProjectIndex", "Resolver", "find_root"]

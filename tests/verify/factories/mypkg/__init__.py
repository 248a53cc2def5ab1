"""A package target: `mypkg.nets:build` imports its sibling module relatively."""

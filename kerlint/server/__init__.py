"""`kerlint server`: the checks of `kerlint check`, live in an editor, over the Language Server Protocol.

Only `command.py` is imported by the command line; it imports pygls (the `server` extra) when
the server starts, so `kerlint check` never pays for it.
"""

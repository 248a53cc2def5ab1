"""`kerlint verify`: build the user's model with keras and show what will really train.

Nothing in this package imports keras at module level except `child` and `analysis`, which
only ever run inside the child process that `runner` starts. That keeps `kerlint check`
(and `import kerlint.verify.command`) free of keras, jax, torch and tensorflow.
"""

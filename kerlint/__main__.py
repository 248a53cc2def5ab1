"""`python -m kerlint` runs the same CLI as the `kerlint` script."""

from kerlint.cli import main

if __name__ == "__main__":
    main()

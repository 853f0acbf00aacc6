"""`python -m annotator` is the same as the `annotator` command."""

from annotator.cli import main

if __name__ == "__main__":
    main()

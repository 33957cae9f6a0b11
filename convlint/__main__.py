"""`python -m convlint`: the same entry point as the `convlint` console script."""

from convlint.launcher import main

if __name__ == "__main__":
    main()

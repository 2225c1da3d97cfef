"""`python -m moka_train.cli ...` == `moka-train ...`."""

from . import main

if __name__ == "__main__":
    raise SystemExit(main())

"""Test-wide switches: the binder and the flow pass fail on a node kind they do not handle,
instead of walking it generically (as pyflakes' test suite makes its checker do)."""

from convlint.analysis import index

index.STRICT = True

# The result cache stays out of the suite (it would write .convlint_cache into fixtures/);
# tests/test_cache.py turns it on where it is the subject.
import os  # noqa: E402

os.environ.setdefault("CONVLINT_NO_CACHE", "1")

"""Test-wide switches: the binder and the flow pass fail on a node kind they do not handle,
instead of walking it generically (as pyflakes' test suite makes its checker do)."""

from convlint.analysis import index

index.STRICT = True

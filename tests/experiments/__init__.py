"""Tests of the theory experiment (a package, so module names do not clash with tests/analysis)."""

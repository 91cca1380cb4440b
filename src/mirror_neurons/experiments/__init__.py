"""Experiments that use the whole pipeline: the test of the paper's theory of emergence."""

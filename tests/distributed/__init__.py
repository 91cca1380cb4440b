"""Tests of the executors on a real local Ray cluster (a package so that the cluster is shut down when they end)."""

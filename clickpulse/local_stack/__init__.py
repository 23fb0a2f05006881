"""Runs the real infrastructure and services as local processes, for `clickpulse up` and the tests."""

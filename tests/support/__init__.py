"""Helpers the test suite uses to start and drive real parts."""

"""Adapters: one module per technology, implementing the ports of the inner layers."""

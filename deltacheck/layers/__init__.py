"""Hand-written layers checked against torch, jax and finite differences of their own forward."""

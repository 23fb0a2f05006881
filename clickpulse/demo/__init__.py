"""The demo: a small shop served locally and simulated shoppers driven through it."""

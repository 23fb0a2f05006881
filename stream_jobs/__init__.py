"""Stream jobs room: the Faust app and its agents (sessionizer, live state), and their tables."""

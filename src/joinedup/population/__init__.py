"""Population health: the pseudonymised analytical lake, and (to come) measures and cohorts."""

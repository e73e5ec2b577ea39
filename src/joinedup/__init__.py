"""JoinedUp: the platform an NHS Integrated Care System runs to join up care across its partners."""

__version__ = "0.1.0"

"""Virtual wards: acute care at home with remote monitoring, early-warning scores and escalation."""

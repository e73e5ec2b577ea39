"""Test support code shared by every kind of test (not tests themselves)."""

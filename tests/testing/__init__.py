"""Tests of the test kit, hookline.testing."""

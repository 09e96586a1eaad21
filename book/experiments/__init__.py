"""Experiments whose results the book states: one source for the chapters and their tests."""

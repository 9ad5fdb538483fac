"""Faust application, settings and command line of user-insights."""

"""What payloads hold: the walker and its table of shapes, location, IDs, the endpoint catalog.

Nothing here decides or stores anything; rules and enforcement points build on it.
"""

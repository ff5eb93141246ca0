"""The labs command line: ``python -m labs`` (or ``labs`` once installed)."""

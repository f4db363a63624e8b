"""Default configuration files, shipped as package data."""

"""The package version, in a module of its own so any module can name it without importing the
whole package (whose `__init__` imports the Library)."""

__version__ = "0.1.0"

"""handseg: segment hands from the objects they hold."""

__version__ = "0.1.0"

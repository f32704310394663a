"""Errors the faces turn into clear messages: exit 2 on the CLI, 400/404 over HTTP."""


class PaperfeedError(Exception):
    """Base of every error paperfeed reports to a user."""


class InvalidInput(PaperfeedError, ValueError):
    """A query, parameter or input the user gave cannot be used as it is."""


class NotFound(PaperfeedError, LookupError):
    """No such paper (or other object)."""


class EncoderUnavailable(PaperfeedError, RuntimeError):
    """An encoder's model files are missing, unreadable or not the model expected (a deleted or
    truncated ONNX file, say). The message names the file and the command that rebuilds it."""

"""User-facing errors: one line that names the file or field and what was expected."""


class ScreeningInputError(ValueError):
    """Bad user input (file, campaign field, option). The CLI prints it and exits non-zero."""

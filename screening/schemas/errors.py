"""User-facing errors: one line that names the file or field and what was expected."""


class ScreeningInputError(ValueError):
    """Bad user input (file, campaign field, option). The CLI prints it and exits non-zero."""


class DatabaseError(ScreeningInputError):
    """The database cannot be used: unreachable or malformed URI, corrupt or locked embedded
    file, failed write. One line, like every input error; nothing stored is changed."""

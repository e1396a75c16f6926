"""Domain exceptions. Front ends turn them into short messages; none is a traceback."""


class RagError(Exception):
    """Base class of every error a user can act on."""


class ConfigError(RagError):
    """A setting is missing or has a value we cannot use."""


class DocumentError(RagError):
    """A file or record could not be read as an article."""


class EmbedderError(RagError):
    """The embedding model cannot be loaded or used."""


class IndexMismatchError(RagError):
    """The index on disk was built with another model or format."""


class IndexNotFoundError(RagError):
    """There is no index in the folder the user named."""


class IndexExistsError(RagError):
    """An index was to be created where one already is."""


class ArticleNotFoundError(RagError):
    """No article has the id the user gave."""


class IndexWriteError(RagError):
    """The index folder cannot be written (disk full, read-only); nothing was changed."""


class IndexBusyError(RagError):
    """Another process holds the index's write lock (an ingest); the write can be retried."""


class IndexDamagedError(RagError):
    """A file of the index that cannot be rebuilt from another (the SQLite database) is
    damaged; the message says what to do."""


def missing_extra(extra: str, feature: str) -> ConfigError:
    """The error for ``feature`` used without the optional packages it needs."""
    return ConfigError(
        f"{feature} needs the '{extra}' extra, which is not installed: "
        f"pip install 'rag-news[{extra}]'"
    )

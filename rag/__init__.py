"""Question answering over news articles, with citations to the exact source passages.

The data flows one way::

    documents -> chunking -> embeddings -> store -> retrieval -> (cli | ...)
"""

__version__ = "0.1.0"

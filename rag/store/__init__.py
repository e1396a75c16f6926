"""The index: one folder (``layout``), its SQLite tables (``tables``), and ``IndexStore``,
which opens it, writes it, and keeps the vector and lexical indexes in step with it."""

from rag.store.index_store import IndexStore
from rag.store.options import VectorIndexOptions, vector_index_options
from rag.store.tables import PreparedArticle

__all__ = ["IndexStore", "PreparedArticle", "VectorIndexOptions", "vector_index_options"]

"""The write API's transaction types, importable next to the writers that take them.

They are defined in :mod:`lakeml.storage.transactions` (below the context layer, whose ``write``
Protocol names them); ``lakeml.Transaction`` and ``lakeml.WriteResult`` are the public names.
"""

from lakeml.storage.transactions import Transaction, WriteResult

__all__ = ["Transaction", "WriteResult"]

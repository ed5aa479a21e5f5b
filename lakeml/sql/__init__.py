"""SQL over the lake: the lake dialect (sqlglot), its own syntax nodes, and the engine.

- :mod:`lakeml.sql.dialect`: ``LakeSQL``, PostgreSQL-style SQL plus T-SQL ``TOP``, ``@params``,
  ``OPENROWSET(BULK ...)`` and both ``PREDICT`` forms.
- :mod:`lakeml.sql.nodes`: ``OpenRowset``, ``PredictTable``, ``PredictCall`` syntax nodes.
- :mod:`lakeml.sql.engine`: ``execute(lake, query, params)``, behind ``Lake.sql``.
"""

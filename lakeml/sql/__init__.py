"""SQL over the lake: the lake dialect (sqlglot), its own syntax nodes, and the engine.

- :mod:`lakeml.sql.dialect`: ``LakeSQL``, PostgreSQL-style SQL plus T-SQL ``TOP``, ``@params``,
  ``OPENROWSET(BULK ...)`` and both ``PREDICT`` forms.
- :mod:`lakeml.sql.nodes`: ``OpenRowset``, ``PredictTable``, ``PredictCall`` syntax nodes.
- :mod:`lakeml.sql.fastpath`: ``execute(lake, query, params)``, behind ``Lake.sql``: plain SQL goes
  straight to the engine (no sqlglot), everything else to :mod:`lakeml.sql.engine`.
- :mod:`lakeml.sql.engine`: the full path: parse, bind parameters, rewrite lake forms, write the
  engine's SQL.
- :mod:`lakeml.sql.tables`: table scans reused between queries while their files are unchanged.
"""

"""The Spark engine: ``lakeml.connect(root, backend="spark")``.

The only package that imports pyspark, and only when a Spark lake is used: ``import lakeml``
never does. See docs/engines.md for what lakeml promises on Spark.
"""

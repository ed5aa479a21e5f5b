"""Data pipelines on one machine: the cloud's pipeline JSON, lakeml activities, a DAG runner and run records.

See docs/pipelines.md. :func:`load_pipeline` reads and validates a definition; ``lake.pipelines``
stores, runs and inspects pipelines.
"""

from lakeml.pipeline.definition import Activity, Pipeline
from lakeml.pipeline.load import bind_parameters, load_pipeline

__all__ = ["Activity", "Pipeline", "bind_parameters", "load_pipeline"]

"""Streaming ONNX batch scoring: model binding (docs/predict.md rules), session cache, executor.

Entry points: ``lake.predict`` / ``lake.score`` (:mod:`lakeml.scoring.api`) and bound models for
``PREDICT('alias', ...)`` (:mod:`lakeml.scoring.bound`).
"""

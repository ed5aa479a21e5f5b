"""The model registry: immutable ONNX model versions with JSON manifests and aliases, in the lake.

Use it as ``lake.models`` (:class:`lakeml.registry.registry.ModelRegistry`); references are parsed
by :class:`lakeml.registry.refs.ModelRef` (``name``, ``name:3``, ``name@alias``).
"""

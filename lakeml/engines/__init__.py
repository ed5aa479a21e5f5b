"""Execution engines behind lakeml's layers: one package per engine (Polars, Spark)."""

"""Builders: read PhysioNet source files, validate every row, write typed Parquet."""

"""The persist service: lossless ingestion of job logs and metrics, storage, queries."""

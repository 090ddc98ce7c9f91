"""Generated protobuf and gRPC modules for the Joblet wire API."""

"""One module per adapter method; every module here is imported by the registry."""

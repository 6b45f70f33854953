"""The `bridge` command line: for technical support and scripts."""

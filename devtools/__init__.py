"""Developer tooling shared by the demo, the tests and the benchmark: the local
AWS endpoint process and a driver for the real Pulumi CLI. Not part of fleet."""

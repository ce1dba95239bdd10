"""fleet: GitOps for AWS IoT certificate infrastructure."""

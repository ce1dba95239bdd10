"""fleet: GitOps for AWS IoT certificate infrastructure."""

# The name pip installs fleet by (the public package index has an unrelated `fleet`); the import
# package and the command are `fleet`. pyproject.toml declares it (tests/unit/test_new_fleet.py).
DISTRIBUTION = "fleet-iot"

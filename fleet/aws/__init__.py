"""AWS access: the only part of fleet that imports boto3."""

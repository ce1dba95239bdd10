"""A fleet repository of a team's own: what `fleet init` and `fleet workflows`
write (fleet.scaffold.new_fleet), the IAM policies fleet's roles need
(fleet.scaffold.iam) and the CloudFormation templates that hold them
(fleet.scaffold.production)."""

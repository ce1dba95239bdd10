"""What fleet tells people: the pull-request review (fleet.reports.review),
drift (fleet.reports.drift, printed by fleet.reports.drift_report), pending
registrations (fleet.reports.pending), expiry (fleet.reports.expiry), and the
one table layout they print with (fleet.reports.console_table)."""

"""Running fleet: recovery after an interrupted apply
(fleet.operations.recovery) and the local AWS endpoint to try a fleet on
(fleet.operations.local)."""

"""The one rule fleet never bends: a revoked certificate is never reactivated.

Where it is kept, one line each:

- the revocation ledger's rules and the one wording of a refusal, checked
  when the manifests load: fleet.manifest.ledger_rules;
- the ledger's git history, which remembers what an edit removed:
  fleet.manifest.ledger_history;
- the program's guard against AWS's records and the stacks' recorded state,
  before anything is declared: fleet.revocation.guard (the state's memory:
  fleet.revocation.state_records);
- the certificate provider's own check, at diff and before every write:
  fleet.providers.device_certificates;
- writing the ledger (fleet.revocation.ledger), adopting revocations made in
  AWS (fleet.revocation.adoption) and revoking a compromised CA
  (fleet.revocation.revoke_ca).
"""

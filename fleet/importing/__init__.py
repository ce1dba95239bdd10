"""`fleet import`: an estate that already exists in AWS, written into the manifests.

A team arrives with CAs, device certificates, policies and attachments made
by hand over years. The import reads them, with read calls only, and writes
the manifest change that declares them as they are, so that the first
`pulumi up` after it adopts everything and writes nothing:

- ``estate``: what AWS has in each account and region, read with list calls
  (250 a page), accounts and regions in parallel;
- ``fetching``: the one thing AWS gives per certificate only, its PEM (one
  DescribeCertificate each), paced, in parallel across places, resumable: a
  PEM already in the repository is never fetched again;
- ``existing``: what the manifests declare already;
- ``cas``, ``policies``, ``certificates``: deciding how each is declared (a CA
  and its placements; a policy's document, templated where places differ by
  account id and region; certificates grouped by CA and place), and what is
  left out or conflicts with the manifests;
- ``plan`` and ``writing``: the files, written so that the manifests are
  valid at every instant (a kill mid-import and a re-run end with the same
  files as an uninterrupted import);
- ``report``: what was written, kept, left out, and why.
"""

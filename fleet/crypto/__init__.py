"""Certificates and keys: the X.509 facts fleet needs (fleet.crypto.pki), CA
private-key references resolved without showing the key (fleet.crypto.keys),
and a certificate's validity in words (fleet.crypto.validity), which the
just-in-time function runs without the cryptography package."""

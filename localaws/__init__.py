"""A local AWS endpoint for fleet: moto in server mode plus fleet's fixes.

moto 5.2.5 lacks several AWS IoT behaviours fleet relies on (see
``ca_fixes``, ``certificate_fixes``). Each fix cites the AWS documentation it follows and has a test
in ``tests/localaws`` that fails against plain moto.
"""

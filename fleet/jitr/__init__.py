"""Just-in-time activation deployed by fleet: the function's configuration
(fleet.jitr.configuration), its package (fleet.jitr.package), its role
(fleet.jitr.role) and how it reads a certificate without the cryptography
package (fleet.jitr.presented). The handler is fleet.jitr.handler."""

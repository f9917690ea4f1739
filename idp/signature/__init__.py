"""Advanced electronic signatures: signing CA, key custody, CAdES, JAdES and verification."""

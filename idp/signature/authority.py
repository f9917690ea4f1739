"""The provider's signing authority: the citizen-signing CA and the key-encryption key, loaded
once per process and shared by requests.

The CA's private key is decrypted from the key store on first use (it is needed only to issue
certificates and CRLs); the key-encryption key that wraps citizens' keys is derived from the
key passphrase, so neither ever lives in the database.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from idp.config import Settings
from idp.signature.ca import SigningCa
from idp.signature.custody import KeyEncryptionKey


@dataclass
class SignatureAuthority:
    keys_dir: Path
    passphrase: bytes = field(repr=False)
    _ca: SigningCa | None = field(default=None, init=False, repr=False)
    _kek: KeyEncryptionKey | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> SignatureAuthority:
        return cls(keys_dir=settings.keys_dir, passphrase=settings.key_passphrase_bytes())

    def available(self) -> bool:
        """Whether an operator has created the signing CA (``idp ca init``)."""
        return self._ca is not None or SigningCa.exists(self.keys_dir)

    def ca(self) -> SigningCa:
        """The CA, loaded once; raises ``SignatureCaError`` when it is missing or unusable."""
        with self._lock:
            if self._ca is None:
                self._ca = SigningCa.load(self.keys_dir, self.passphrase)
            return self._ca

    def kek(self) -> KeyEncryptionKey:
        with self._lock:
            if self._kek is None:
                self._kek = KeyEncryptionKey.from_passphrase(self.passphrase)
            return self._kek

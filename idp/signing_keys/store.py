"""Private keys on disk: encrypted PKCS#8 PEM, file mode 0600, written atomically.

Write = temporary file in the same folder, fsync, rename, fsync the folder: a crash leaves
either the old state or the new file, never half a key. Files are never overwritten.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes


class KeyStoreError(RuntimeError):
    """A key file cannot be written, read or decrypted; one sentence for the operator."""


class KeyFileStore:
    def __init__(self, folder: Path, passphrase: bytes) -> None:
        self.folder = folder
        self._passphrase = passphrase

    def path_of(self, file_name: str) -> Path:
        if "/" in file_name or file_name.startswith("."):
            raise KeyStoreError(f"Invalid key file name {file_name!r}.")
        return self.folder / file_name

    def write(self, file_name: str, key: PrivateKeyTypes) -> Path:
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(self._passphrase),
        )
        try:
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise KeyStoreError(
                f"The keys folder {self.folder} cannot be created ({exc.strerror})."
            ) from None
        target = self.path_of(file_name)
        if target.exists():
            raise KeyStoreError(f"The key file {target} already exists; refusing to overwrite it.")
        temporary = self.folder / f".{file_name}.tmp-{os.getpid()}"
        try:
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.write(descriptor, pem)
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
            os.replace(temporary, target)
            directory = os.open(self.folder, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
        except OSError as exc:
            with contextlib.suppress(OSError):
                temporary.unlink()
            raise KeyStoreError(
                f"The key file {target} cannot be written ({exc.strerror})."
            ) from None
        return target

    def read(self, file_name: str) -> PrivateKeyTypes:
        path = self.path_of(file_name)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise KeyStoreError(f"The key file {path} is missing.") from None
        except OSError as exc:
            raise KeyStoreError(f"The key file {path} cannot be read ({exc.strerror}).") from None
        try:
            return serialization.load_pem_private_key(data, password=self._passphrase)
        except (ValueError, TypeError):
            raise KeyStoreError(
                f"The key file {path} cannot be decrypted: the passphrase is wrong or the "
                "file is corrupted."
            ) from None

    def remove(self, file_name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path_of(file_name).unlink()

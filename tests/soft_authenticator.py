"""A software WebAuthn authenticator for tests, built on fido2's data structures and ES256 keys.

It answers the JSON options py_webauthn generates with the JSON py_webauthn parses, and has knobs
to misbehave like an attacker's or a broken device: the UV flag, the counter step, another origin
or RP ID, another user handle, a packed attestation with a certificate chain.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from fido2.cose import ES256
from fido2.utils import websafe_decode, websafe_encode
from fido2.webauthn import AttestationObject, AttestedCredentialData, AuthenticatorData, CollectedClientData

FLAG = AuthenticatorData.FLAG


@dataclass
class Key:
    """One credential the authenticator holds (a discoverable one: it keeps the user handle)."""

    credential_id: bytes
    private_key: ec.EllipticCurvePrivateKey
    rp_id: str
    user_handle: bytes
    counter: int = 0


@dataclass
class SoftAuthenticator:
    """Knobs: uv (user verified flag), counter_step (0 keeps the counter at 0), origin, rp_id, aaguid,
    attestation ("none", "self" or "packed" with attestation_cert + attestation_key)."""

    origin: str = "http://localhost:5000"
    rp_id: str = "localhost"
    uv: bool = True
    counter_step: int = 1
    aaguid: bytes = bytes(16)
    attestation: str = "none"
    attestation_cert: bytes | None = None  # DER
    attestation_key: ec.EllipticCurvePrivateKey | None = None
    keys: dict[bytes, Key] = field(default_factory=dict)

    def _flags(self, uv: bool | None, attested: bool = False) -> FLAG:
        flags = FLAG.UP | (FLAG.UV if (self.uv if uv is None else uv) else 0)
        return flags | FLAG.AT if attested else flags

    def create(
        self,
        options: dict | str,
        *,
        origin=None,
        rp_id=None,
        uv=None,
        kind="webauthn.create",
        credential_id=None,
    ) -> dict:
        """navigator.credentials.create(): a new key pair for the options' RP and user."""
        options = json.loads(options) if isinstance(options, str) else options
        rp_id = rp_id or options["rp"]["id"]
        client_data = CollectedClientData.create(
            type=kind, challenge=websafe_decode(options["challenge"]), origin=origin or self.origin
        )
        private_key = ec.generate_private_key(ec.SECP256R1())
        credential_id = credential_id or secrets.token_bytes(32)
        # counter_step 0 models an authenticator without a counter (it stays 0).
        key = Key(
            credential_id,
            private_key,
            rp_id,
            websafe_decode(options["user"]["id"]),
            1 if self.counter_step else 0,
        )
        public = ES256.from_cryptography_key(private_key.public_key())
        auth_data = AuthenticatorData.create(
            hashlib.sha256(rp_id.encode()).digest(),
            self._flags(uv, attested=True),
            key.counter,
            AttestedCredentialData.create(self.aaguid, credential_id, public),
        )
        statement = self._statement(auth_data, client_data, private_key)
        fmt = "none" if self.attestation == "none" else "packed"
        attestation = AttestationObject.create(fmt, auth_data, statement)
        self.keys[credential_id] = key
        return {
            "id": websafe_encode(credential_id),
            "rawId": websafe_encode(credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": websafe_encode(client_data),
                "attestationObject": websafe_encode(attestation),
                "transports": ["internal"],
            },
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        }

    def _statement(self, auth_data, client_data, private_key) -> dict:
        if self.attestation == "none":
            return {}
        signer = self.attestation_key if self.attestation == "packed" else private_key
        signature = signer.sign(bytes(auth_data) + client_data.hash, ec.ECDSA(hashes.SHA256()))
        statement = {"alg": -7, "sig": signature}
        if self.attestation == "packed":
            statement["x5c"] = [self.attestation_cert]
        return statement

    def get(
        self,
        options: dict | str,
        *,
        credential_id: bytes | None = None,
        origin=None,
        rp_id=None,
        uv=None,
        user_handle: bytes | None | bool = True,
        counter: int | None = None,
        kind="webauthn.get",
    ) -> dict:
        """navigator.credentials.get(): sign the challenge with one of the keys (the only or the named one).

        user_handle: True sends the stored handle, None/False omits it, bytes sends those bytes."""
        options = json.loads(options) if isinstance(options, str) else options
        key = self.keys[credential_id] if credential_id else next(iter(self.keys.values()))
        if counter is None:
            key.counter += self.counter_step
            counter = key.counter
        client_data = CollectedClientData.create(
            type=kind, challenge=websafe_decode(options["challenge"]), origin=origin or self.origin
        )
        auth_data = AuthenticatorData.create(
            hashlib.sha256((rp_id or key.rp_id).encode()).digest(), self._flags(uv), counter
        )
        signature = key.private_key.sign(bytes(auth_data) + client_data.hash, ec.ECDSA(hashes.SHA256()))
        handle = key.user_handle if user_handle is True else (user_handle or None)
        return {
            "id": websafe_encode(key.credential_id),
            "rawId": websafe_encode(key.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": websafe_encode(client_data),
                "authenticatorData": websafe_encode(auth_data),
                "signature": websafe_encode(signature),
                "userHandle": websafe_encode(handle) if handle else None,
            },
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        }

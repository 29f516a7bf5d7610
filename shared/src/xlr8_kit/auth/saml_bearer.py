"""SAML 2.0 bearer assertion grant (RFC 7522) as SAP SuccessFactors implements it.

``build_signed_saml_assertion`` returns this document (UTF-8 bytes, prefix ``saml2`` =
``urn:oasis:names:tc:SAML:2.0:assertion``; times are UTC ``YYYY-MM-DDTHH:MM:SSZ``; ``now`` is the caller's clock and
``issued`` = now - ``ISSUED_SKEW_S`` (30 s; at most half the lifetime): a tenant whose clock is a few seconds behind
ours refused an assertion issued in its future, as for the JWT flows' ``iat`` (audit25d F10)):

- ``Assertion``: ``ID`` = ``_`` + 32 hex chars, ``Version="2.0"``, ``IssueInstant`` = issued.
- ``Issuer`` = client_id (the API key of the registered OAuth client).
- ``ds:Signature`` right after ``Issuer``: enveloped, RSA-SHA256, SHA-256 digest, exclusive C14N, one Reference
  to ``#<ID>``, the signing certificate in ``KeyInfo/X509Data``. Verify with
  ``signxml.XMLVerifier().verify(xml, x509_cert=<registered cert>)`` (``expect_config`` defaults are fine).
- ``Subject/NameID`` (format ``urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified``) = user_id, with
  ``SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"`` whose ``SubjectConfirmationData`` has
  ``Recipient`` = the token URL and ``NotOnOrAfter`` = issued + lifetime.
- ``Conditions NotBefore`` = now - ``not_before_skew_s`` (default 60 s, clock skew allowance; never after issued)
  and ``NotOnOrAfter`` = issued + ``lifetime_s`` (default 600 s: the ten minutes SuccessFactors' own IdP and its
  offline generator give an assertion, SAP KBA 3031657; the window keeps its length, moved back with the issue
  time), with ``AudienceRestriction/Audience`` = ``www.successfactors.com``.
- ``AuthnStatement AuthnInstant`` = issued, ``SessionIndex`` = the assertion ID, class
  ``urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport``.
- ``AttributeStatement``: attribute ``api_key`` = client_id (what SuccessFactors' own generator adds).

``SAML2Bearer`` base64-encodes it (standard alphabet) and POSTs the form fields ``company_id``, ``client_id``,
``grant_type=urn:ietf:params:oauth:grant-type:saml2-bearer`` and ``assertion`` to ``token_url``
(``https://<api host>/oauth/token``). SuccessFactors issues no refresh token: a new assertion is signed each time.
"""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from lxml import etree

from xlr8_kit.auth.base import ISSUED_SKEW_S, Token, TokenAuthenticator
from xlr8_kit.auth.keys import ensure_key_matches_certificate, load_certificate, load_private_key

SAML2_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:saml2-bearer"
SAML_NS = "urn:oasis:names:tc:SAML:2.0:assertion"
DS_NS = "http://www.w3.org/2000/09/xmldsig#"
SUCCESSFACTORS_AUDIENCE = "www.successfactors.com"
NAMEID_UNSPECIFIED = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
BEARER_CONFIRMATION = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
PASSWORD_PROTECTED_TRANSPORT = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
FLOW = "saml2 bearer"


def _xml_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _saml(parent: etree._Element | None, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    qname = f"{{{SAML_NS}}}{tag}"
    element = etree.Element(qname, nsmap={"saml2": SAML_NS}) if parent is None else etree.SubElement(parent, qname)
    for key, value in attrs.items():
        element.set(key, value)
    if text is not None:
        element.text = text
    return element


def build_signed_saml_assertion(
    *,
    client_id: str,
    user_id: str,
    recipient: str,
    private_key_pem: str | bytes,
    certificate_pem: str | bytes,
    passphrase: str | None = None,
    now: datetime | None = None,
    audience: str = SUCCESSFACTORS_AUDIENCE,
    lifetime_s: float = 600.0,
    not_before_skew_s: float = 60.0,
    assertion_id: str | None = None,
) -> bytes:
    """Build and sign the assertion described in the module docstring; returns the signed XML (not base64)."""
    # signxml and cryptography (30 ms) load when an assertion is signed, not in every SuccessFactors run
    from cryptography.hazmat.primitives.asymmetric import rsa
    from signxml import XMLSigner
    from signxml.algorithms import CanonicalizationMethod, DigestAlgorithm, SignatureMethod

    for name, value in (("client_id", client_id), ("user_id", user_id), ("recipient", recipient)):
        if not value:
            raise ValueError(f"{FLOW}: {name} is required")
    key = load_private_key(private_key_pem, passphrase, setting="private_key", flow=FLOW)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"{FLOW}: private_key must be an RSA key for RSA-SHA256")
    cert = load_certificate(certificate_pem, setting="certificate", flow=FLOW)
    ensure_key_matches_certificate(key, cert, key_setting="private_key", cert_setting="certificate", flow=FLOW)
    moment = (now or datetime.now(UTC)).astimezone(UTC).replace(microsecond=0)
    issued = moment - timedelta(seconds=min(ISSUED_SKEW_S, lifetime_s // 2))
    expires = _xml_time(issued + timedelta(seconds=lifetime_s))
    ident = assertion_id or f"_{uuid.uuid4().hex}"

    assertion = _saml(None, "Assertion", ID=ident, Version="2.0", IssueInstant=_xml_time(issued))
    _saml(assertion, "Issuer", client_id)
    placeholder = etree.SubElement(assertion, f"{{{DS_NS}}}Signature", nsmap={"ds": DS_NS})
    placeholder.set("Id", "placeholder")
    subject = _saml(assertion, "Subject")
    _saml(subject, "NameID", user_id, Format=NAMEID_UNSPECIFIED)
    confirmation = _saml(subject, "SubjectConfirmation", Method=BEARER_CONFIRMATION)
    _saml(confirmation, "SubjectConfirmationData", NotOnOrAfter=expires, Recipient=recipient)
    conditions = _saml(
        assertion,
        "Conditions",
        NotBefore=_xml_time(min(issued, moment - timedelta(seconds=not_before_skew_s))),
        NotOnOrAfter=expires,
    )
    _saml(_saml(conditions, "AudienceRestriction"), "Audience", audience)
    authn = _saml(assertion, "AuthnStatement", AuthnInstant=_xml_time(issued), SessionIndex=ident)
    _saml(_saml(authn, "AuthnContext"), "AuthnContextClassRef", PASSWORD_PROTECTED_TRANSPORT)
    attribute = _saml(_saml(assertion, "AttributeStatement"), "Attribute", Name="api_key")
    _saml(attribute, "AttributeValue", client_id)

    signer = XMLSigner(
        signature_algorithm=SignatureMethod.RSA_SHA256,
        digest_algorithm=DigestAlgorithm.SHA256,
        c14n_algorithm=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0,
    )
    signed = signer.sign(assertion, key=key, cert=[cert], reference_uri=f"#{ident}", id_attribute="ID")
    return etree.tostring(signed, xml_declaration=False, encoding="utf-8")


class SAML2Bearer(TokenAuthenticator):
    """SuccessFactors OAuth: sign an assertion with the customer's key, exchange it for an access token."""

    flow_name = FLOW

    def __init__(
        self,
        token_url: str,
        client_id: str,
        user_id: str,
        company_id: str,
        private_key_pem: str | bytes,
        certificate_pem: str | bytes,
        *,
        passphrase: str | None = None,
        audience: str = SUCCESSFACTORS_AUDIENCE,
        recipient: str | None = None,
        assertion_lifetime_s: float = 600.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        for name, value in (
            ("token_url", token_url),
            ("client_id", client_id),
            ("user_id", user_id),
            ("company_id", company_id),
        ):
            if not value:
                raise ValueError(f"{FLOW}: {name} is required")
        self.redactor.add(passphrase)
        key = load_private_key(private_key_pem, passphrase, setting="private_key", flow=FLOW)
        cert = load_certificate(certificate_pem, setting="certificate", flow=FLOW)
        ensure_key_matches_certificate(key, cert, key_setting="private_key", cert_setting="certificate", flow=FLOW)
        self.token_url = token_url
        self.client_id = client_id
        self.user_id = user_id
        self.company_id = company_id
        self.audience = audience
        self.recipient = recipient or token_url
        self.assertion_lifetime_s = assertion_lifetime_s
        self._private_key_pem = private_key_pem
        self._certificate_pem = certificate_pem
        self._passphrase = passphrase

    def build_assertion(self) -> bytes:
        return build_signed_saml_assertion(
            client_id=self.client_id,
            user_id=self.user_id,
            recipient=self.recipient,
            private_key_pem=self._private_key_pem,
            certificate_pem=self._certificate_pem,
            passphrase=self._passphrase,
            now=datetime.fromtimestamp(self.clock(), UTC),
            audience=self.audience,
            lifetime_s=self.assertion_lifetime_s,
        )

    def fetch_token(self) -> Token:
        encoded = base64.b64encode(self.build_assertion()).decode("ascii")
        self.redactor.add(encoded)
        data = {
            "company_id": self.company_id,
            "client_id": self.client_id,
            "grant_type": SAML2_BEARER_GRANT,
            "assertion": encoded,
        }
        payload = self.post_token_request(self.token_url, data)
        return Token.from_response(payload, now=self.clock(), assumed_lifetime_s=self.assumed_lifetime_s)

    def __repr__(self) -> str:
        return f"SAML2Bearer(token_url={self.token_url!r}, client_id={self.client_id!r}, user_id={self.user_id!r})"

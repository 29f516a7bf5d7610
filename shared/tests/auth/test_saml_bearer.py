"""SAML 2.0 bearer (SuccessFactors): the assertion is verified with signxml against the registered certificate,
its claims are checked, and a tampered or foreign-signed one is rejected."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from lxml import etree
from signxml import XMLVerifier
from signxml.exceptions import InvalidSignature

from xlr8_kit.auth import SAML2Bearer, build_signed_saml_assertion
from xlr8_kit.auth.saml_bearer import SAML2_BEARER_GRANT
from xlr8_kit.http.errors import AuthenticationError
from xlr8_kit.redaction import Redactor

NS = {"saml2": "urn:oasis:names:tc:SAML:2.0:assertion", "ds": "http://www.w3.org/2000/09/xmldsig#"}
NOW = datetime(2026, 1, 5, 9, 0, 0, tzinfo=UTC)
TOKEN_URL = "https://api.successfactors.example/oauth/token"


def _assertion(keys, **kw) -> bytes:
    args = {
        "client_id": "SFAPIKEY123",
        "user_id": "sfadmin",
        "recipient": TOKEN_URL,
        "private_key_pem": keys.key_pem,
        "certificate_pem": keys.cert_pem,
        "now": NOW,
        **kw,
    }
    return build_signed_saml_assertion(**args)


def _verify(xml: bytes, cert_pem: bytes) -> etree._Element:
    return XMLVerifier().verify(xml, x509_cert=cert_pem.decode()).signed_xml


def test_saml_assertion_verifies_against_the_registered_cert_with_documented_claims(customer_keys):
    signed = _verify(_assertion(customer_keys), customer_keys.cert_pem)

    def one(path: str) -> etree._Element:
        (found,) = signed.xpath(path, namespaces=NS)
        return found

    assert signed.tag == "{urn:oasis:names:tc:SAML:2.0:assertion}Assertion"
    assert signed.get("Version") == "2.0"
    assert signed.get("IssueInstant") == "2026-01-05T08:59:30Z"  # ISSUED_SKEW_S before now
    assert signed.get("ID").startswith("_")
    assert one("saml2:Issuer").text == "SFAPIKEY123"
    name_id = one("saml2:Subject/saml2:NameID")
    assert name_id.text == "sfadmin"
    assert name_id.get("Format") == "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
    confirmation = one("saml2:Subject/saml2:SubjectConfirmation")
    assert confirmation.get("Method") == "urn:oasis:names:tc:SAML:2.0:cm:bearer"
    data = one("saml2:Subject/saml2:SubjectConfirmation/saml2:SubjectConfirmationData")
    assert data.get("Recipient") == TOKEN_URL
    assert data.get("NotOnOrAfter") == "2026-01-05T09:09:30Z"  # ten minutes after IssueInstant
    conditions = one("saml2:Conditions")
    assert conditions.get("NotBefore") == "2026-01-05T08:59:00Z"
    assert conditions.get("NotOnOrAfter") == "2026-01-05T09:09:30Z"
    assert one("saml2:Conditions/saml2:AudienceRestriction/saml2:Audience").text == "www.successfactors.com"
    assert one("saml2:AuthnStatement").get("AuthnInstant") == "2026-01-05T08:59:30Z"
    assert one("saml2:AttributeStatement/saml2:Attribute[@Name='api_key']/saml2:AttributeValue").text == "SFAPIKEY123"


def test_saml_signature_placement_and_algorithms(customer_keys):
    root = etree.fromstring(_assertion(customer_keys))
    children = [etree.QName(child).localname for child in root]
    assert children[:3] == ["Issuer", "Signature", "Subject"]  # schema order: Signature right after Issuer
    method = root.find("ds:Signature/ds:SignedInfo/ds:SignatureMethod", NS).get("Algorithm")
    assert method == "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
    reference = root.find("ds:Signature/ds:SignedInfo/ds:Reference", NS)
    assert reference.get("URI") == f"#{root.get('ID')}"
    assert root.find("ds:Signature/ds:KeyInfo/ds:X509Data/ds:X509Certificate", NS) is not None


def test_saml_tampered_assertion_is_rejected(customer_keys):
    xml = _assertion(customer_keys)
    tampered = xml.replace(b">sfadmin<", b">ceo-account<")
    assert tampered != xml
    with pytest.raises(InvalidSignature):
        _verify(tampered, customer_keys.cert_pem)


def test_saml_signed_with_another_key_is_rejected_by_the_registered_cert(customer_keys, other_keys):
    forged = _assertion(other_keys)
    _verify(forged, other_keys.cert_pem)  # internally consistent...
    with pytest.raises(InvalidSignature):
        _verify(forged, customer_keys.cert_pem)  # ...but not by the certificate SuccessFactors holds


def test_saml_key_and_certificate_must_match(customer_keys, other_keys):
    with pytest.raises(ValueError, match="private_key does not belong to the certificate"):
        _assertion(customer_keys, certificate_pem=other_keys.cert_pem)


@pytest.fixture
def successfactors_like(auth_server, customer_keys):
    verified: list[etree._Element] = []

    def handler(call):
        form = call.form
        if form.get("grant_type") != SAML2_BEARER_GRANT or form.get("company_id") != "ACMECORP":
            return 400, {"error": "invalid_request"}, {}
        try:
            signed = _verify(base64.b64decode(form["assertion"]), customer_keys.cert_pem)
        except InvalidSignature:
            return 401, {"errorMessage": "Unable to verify the SAML assertion signature"}, {}
        issuer = signed.find("saml2:Issuer", NS).text
        if issuer != form["client_id"]:
            return 401, {"errorMessage": "issuer does not match client_id"}, {}
        verified.append(signed)
        return 200, {**auth_server.issue(expires_in=86399), "token_type": "Bearer"}, {}

    auth_server.token_handler = handler
    return verified


def _saml(server, session, clock, keys, **kw):
    return SAML2Bearer(
        server.token_url,
        "SFAPIKEY123",
        "sfadmin",
        "ACMECORP",
        kw.pop("private_key_pem", keys.key_pem),
        kw.pop("certificate_pem", keys.cert_pem),
        session=session,
        clock=clock,
        redactor=Redactor(),
        **kw,
    )


def test_saml2_bearer_token_exchange(auth_server, successfactors_like, session, clock, customer_keys):
    auth = _saml(auth_server, session, clock, customer_keys)
    assert session.get(auth_server.api_url, auth=auth).status_code == 200

    (signed,) = successfactors_like
    assert set(auth_server.token_calls[0].form) == {"company_id", "client_id", "grant_type", "assertion"}
    data = signed.find("saml2:Subject/saml2:SubjectConfirmation/saml2:SubjectConfirmationData", NS)
    assert data.get("Recipient") == auth_server.token_url
    issued = datetime.fromtimestamp(clock() - 30, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")  # ISSUED_SKEW_S
    assert signed.get("IssueInstant") == issued
    token = auth.token
    assert token is not None
    assert token.lifetime == 86399
    clock.advance(86399 - 60)  # margin min(60 s, 10 %): a new assertion before the day is over
    assert session.get(auth_server.api_url, auth=auth).status_code == 200
    assert len(successfactors_like) == 2


def test_saml2_bearer_rejected_signature_is_an_auth_error(
    auth_server, successfactors_like, session, clock, customer_keys, other_keys
):
    auth = _saml(auth_server, session, clock, other_keys)
    with pytest.raises(AuthenticationError, match="Unable to verify the SAML assertion signature"):
        auth.current_token()
    assert successfactors_like == []


def test_saml2_bearer_encrypted_key(auth_server, successfactors_like, session, clock, customer_keys):
    auth = _saml(
        auth_server,
        session,
        clock,
        customer_keys,
        private_key_pem=customer_keys.encrypted_key_pem("sf-key-pass"),
        passphrase="sf-key-pass",
    )
    auth.current_token()
    assert len(successfactors_like) == 1


@pytest.mark.parametrize("missing", ["token_url", "client_id", "user_id", "company_id"])
def test_saml2_bearer_missing_setting_is_named(session, customer_keys, missing):
    args = {"token_url": TOKEN_URL, "client_id": "k", "user_id": "u", "company_id": "c", missing: ""}
    with pytest.raises(ValueError, match=missing):
        SAML2Bearer(
            **args, private_key_pem=customer_keys.key_pem, certificate_pem=customer_keys.cert_pem, session=session
        )

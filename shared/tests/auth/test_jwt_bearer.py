"""JWT bearer (Salesforce / Oracle): the assertion's claims and RS256 signature are verified by the local token
server with the customer's public key, exactly as the vendor would."""

from __future__ import annotations

import base64
import hashlib

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from xlr8_kit.auth import JWTBearer
from xlr8_kit.auth.jwt_bearer import JWT_BEARER_GRANT
from xlr8_kit.redaction import Redactor

AUDIENCE = "https://login.salesforce.com"
#: The tenant's clock minus ours (seconds), for the token endpoint below; 0 unless a test sets it.
TENANT = {"skew": 0.0}


@pytest.fixture
def salesforce_like(auth_server, customer_keys):
    """Verify like Salesforce: RS256 with the registered key, aud/iss/sub, exp at most 3 minutes ahead; and, as
    verifiers without leeway do (PyJWT's defaults), ``iat`` and ``nbf`` not in the future: all on the tenant's clock
    (``TENANT["skew"]`` off ours)."""
    seen: list[tuple[dict, dict]] = []
    TENANT["skew"] = 0.0

    def handler(call):
        if call.form.get("grant_type") != JWT_BEARER_GRANT:
            return 400, {"error": "unsupported_grant_type"}, {}
        assertion = call.form["assertion"]
        try:
            claims = jwt.decode(
                assertion,
                customer_keys.public_pem,
                algorithms=["RS256"],
                audience=AUDIENCE,
                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
            )
        except jwt.InvalidTokenError as exc:
            return 400, {"error": "invalid_grant", "error_description": f"bad assertion: {type(exc).__name__}"}, {}
        now = auth_server.clock() + TENANT["skew"]
        if not now < claims["exp"] <= now + 180:
            return 400, {"error": "invalid_grant", "error_description": "expired or too long-lived"}, {}
        if any(claims.get(name, now) > now for name in ("iat", "nbf")):
            return 400, {"error": "invalid_grant", "error_description": "issued in the future"}, {}
        seen.append((jwt.get_unverified_header(assertion), claims))
        body = auth_server.issue(expires_in=None)  # Salesforce sends no expires_in
        body["instance_url"] = "https://acme.my.salesforce.com"
        return 200, body, {}

    auth_server.token_handler = handler
    return seen


def _jwt(server, session, clock, keys, **kw):
    return JWTBearer(
        server.token_url,
        "3MVG9consumerkey",
        "integration@acme.example",
        kw.pop("private_key_pem", keys.key_pem),
        AUDIENCE,
        session=session,
        clock=clock,
        redactor=kw.pop("redactor", Redactor()),
        **kw,
    )


def test_jwt_claims_and_signature_verified_with_public_key(auth_server, salesforce_like, session, clock, customer_keys):
    auth = _jwt(auth_server, session, clock, customer_keys, assumed_lifetime_s=1200)
    assert session.get(auth_server.api_url, auth=auth).status_code == 200

    ((header, claims),) = salesforce_like
    assert header["alg"] == "RS256"
    assert header["typ"] == "JWT"
    assert claims["iss"] == "3MVG9consumerkey"
    assert claims["sub"] == "integration@acme.example"
    assert claims["aud"] == AUDIENCE
    assert claims["iat"] == claims["nbf"] == int(clock()) - 30  # ISSUED_SKEW_S
    assert claims["exp"] == claims["iat"] + 180
    assert len(claims["jti"]) == 32
    token = auth.token
    assert token is not None
    assert token.lifetime_assumed
    assert token.lifetime == 1200
    assert token.extra["instance_url"] == "https://acme.my.salesforce.com"
    assert "access_token" not in token.extra


def test_jwt_signed_by_another_key_is_rejected(auth_server, salesforce_like, session, clock, other_keys):
    from xlr8_kit.http.errors import ReauthorizationRequiredError

    auth = _jwt(auth_server, session, clock, other_keys)
    with pytest.raises(ReauthorizationRequiredError, match="InvalidSignatureError"):
        auth.current_token()


def test_jwt_no_expires_in_relies_on_401(auth_server, salesforce_like, session, clock, customer_keys):
    auth = _jwt(auth_server, session, clock, customer_keys)
    assert session.get(auth_server.api_url, auth=auth).status_code == 200
    auth_server.revoked.add(auth.token.access_token)  # type: ignore[union-attr]  # session timeout at the org
    assert session.get(auth_server.api_url, auth=auth).status_code == 200
    assert len(salesforce_like) == 2  # a fresh assertion for the forced refresh


def test_jwt_oracle_style_headers_and_client_auth(auth_server, session, clock, customer_keys):
    oracle_aud = "https://identity.oraclecloud.com/"
    auth_server.token_handler = lambda call: (200, auth_server.issue(), {})
    auth = JWTBearer(
        auth_server.token_url,
        "oracle-client-id",
        "hcm.integration",
        customer_keys.key_pem,
        oracle_aud,
        certificate_pem=customer_keys.cert_pem,
        key_id="xlr8-cert-alias",
        client_secret="oracle-client-secret",
        scope="urn:opc:resource:consumer::all",
        session=session,
        clock=clock,
        redactor=Redactor(),
    )
    auth.current_token()
    call = auth_server.token_calls[0]
    assert call.basic() == ("oracle-client-id", "oracle-client-secret")
    assert call.form["scope"] == "urn:opc:resource:consumer::all"
    header = jwt.get_unverified_header(call.form["assertion"])
    cert = x509.load_pem_x509_certificate(customer_keys.cert_pem)
    thumbprint = base64.urlsafe_b64encode(hashlib.sha1(cert.public_bytes(Encoding.DER)).digest()).rstrip(b"=")
    assert header["kid"] == "xlr8-cert-alias"
    assert header["x5t"] == thumbprint.decode()
    claims = jwt.decode(
        call.form["assertion"],
        customer_keys.public_pem,
        algorithms=["RS256"],
        audience=oracle_aud,
        options={"verify_exp": False, "verify_iat": False},
    )
    assert claims["iss"] == "oracle-client-id"
    assert claims["sub"] == "hcm.integration"


def test_jwt_encrypted_key_with_passphrase(auth_server, salesforce_like, session, clock, customer_keys):
    passphrase = "correct horse battery"
    encrypted = customer_keys.encrypted_key_pem(passphrase)
    auth = _jwt(auth_server, session, clock, customer_keys, private_key_pem=encrypted, passphrase=passphrase)
    auth.current_token()
    assert len(salesforce_like) == 1


@pytest.mark.parametrize(
    ("passphrase", "expected"),
    [(None, "private_key is encrypted; set the passphrase"), ("wrong-passphrase", "wrong passphrase")],
)
def test_jwt_key_errors_name_the_setting_not_the_secret(session, customer_keys, passphrase, expected):
    encrypted = customer_keys.encrypted_key_pem("correct horse battery")
    with pytest.raises(ValueError, match=expected) as caught:
        JWTBearer("https://login.example/token", "c", "u", encrypted, AUDIENCE, passphrase=passphrase, session=session)
    assert "correct horse" not in str(caught.value)
    assert "BEGIN" not in str(caught.value)


def test_jwt_garbage_key_and_bad_lifetime(session):
    with pytest.raises(ValueError, match="private_key is not a PEM private key"):
        JWTBearer("https://login.example/token", "c", "u", "not a key", AUDIENCE, session=session)
    with pytest.raises(ValueError, match="assertion_lifetime_s"):
        JWTBearer("https://l/t", "c", "u", "x", AUDIENCE, assertion_lifetime_s=3600, session=session)


@pytest.mark.parametrize("skew", [-5.0, -29.0, 5.0])
def test_a_tenant_clock_a_little_off_ours_accepts_the_assertion(
    auth_server, salesforce_like, session, clock, customer_keys, skew
):
    """audit25d F10: ``iat`` was our now, so a tenant whose clock is seconds behind ours saw it issued in the future
    and refused the token; ``iat``/``nbf`` are set 30 s back, and ``exp`` stays within 3 minutes of its clock."""
    TENANT["skew"] = skew
    auth = _jwt(auth_server, session, clock, customer_keys)
    assert session.get(auth_server.api_url, auth=auth).status_code == 200
    ((_, claims),) = salesforce_like
    assert claims["iat"] <= clock() + skew < claims["exp"] <= clock() + skew + 180


def test_a_short_assertion_lifetime_is_set_back_by_half_of_it_at_most(
    auth_server, salesforce_like, session, clock, customer_keys
):
    auth = _jwt(auth_server, session, clock, customer_keys, assertion_lifetime_s=20)
    assert session.get(auth_server.api_url, auth=auth).status_code == 200
    ((_, claims),) = salesforce_like
    assert (claims["iat"], claims["exp"]) == (int(clock()) - 10, int(clock()) + 10)

"""A SAML 2.0 service provider built on pysaml2, the maintained third-party library the browser
stories sign members in and out of Vestibule with.

It is the vendor's application in those stories: it publishes its metadata (which the tenant
admin uploads on the SAML Client Apps page), sends signed AuthnRequests over either binding,
consumes responses (pysaml2 checks the signatures with xmlsec1 against the IdP metadata, the
audience, the destination, InResponseTo and the clock, and decrypts encrypted assertions), and
takes part in single logout from either side. Each page shows what pysaml2 accepted, for the
story to read.

    python sp.py --name events --idp-metadata idp.xml [--want response|both]

prints `listening on http://127.0.0.1:<port>` once it serves.
"""

import argparse
from base64 import b64decode
import html
import secrets
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, make_server

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.client import Saml2Client
from saml2.config import SPConfig
from saml2.metadata import create_metadata_string
from saml2.saml import NAMEID_FORMAT_PERSISTENT
from saml2.samlp import response_from_string
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

BINDINGS = {"redirect": BINDING_HTTP_REDIRECT, "post": BINDING_HTTP_POST}


def key_pair(folder: Path, name: str):
    """The SP's own signing and encryption key with a self-signed certificate, as SPs have."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name} service provider")])
    now = datetime.now(timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    key_file, cert_file = folder / "sp.key", folder / "sp.crt"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return str(key_file), str(cert_file)


def sp_config(origin: str, name: str, idp_metadata: str, want: str, folder: Path) -> SPConfig:
    key_file, cert_file = key_pair(folder, name)
    config = SPConfig()
    config.load(
        {
            "entityid": f"{origin}/metadata",
            "name": name,
            "key_file": key_file,
            "cert_file": cert_file,
            "encryption_keypairs": [{"key_file": key_file, "cert_file": cert_file}],
            "xmlsec_binary": "/usr/bin/xmlsec1",
            "metadata": {"local": [idp_metadata]},
            "allow_unknown_attributes": True,
            "signing_algorithm": SIG_RSA_SHA256,
            "digest_algorithm": DIGEST_SHA256,
            "service": {
                "sp": {
                    "endpoints": {
                        "assertion_consumer_service": [(f"{origin}/acs", BINDING_HTTP_POST)],
                        "single_logout_service": [(f"{origin}/slo", BINDING_HTTP_REDIRECT)],
                    },
                    "name_id_format": [NAMEID_FORMAT_PERSISTENT],
                    "authn_requests_signed": True,
                    "logout_requests_signed": True,
                    "logout_responses_signed": True,
                    "want_assertions_signed": want in ("assertion", "both"),
                    "want_response_signed": want in ("response", "both"),
                    # IdP-initiated sign-in: responses to no request of ours.
                    "allow_unsolicited": True,
                }
            },
        }
    )
    return config


class ServiceProvider:
    def __init__(self, config: SPConfig, name: str):
        self.client = Saml2Client(config=config)
        self.config = config
        self.name = name
        self.cookie = f"sp_{name}"
        self.outstanding = {}  # AuthnRequest ID -> RelayState
        self.sessions = {}  # cookie value -> what the response said

    def __call__(self, environ, start_response):
        path = environ["PATH_INFO"]
        method = environ["REQUEST_METHOD"]
        query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        try:
            if path == "/metadata":
                xml = create_metadata_string(None, config=self.config, sign=False)
                return self.reply(start_response, "200 OK", xml, "application/samlmetadata+xml")
            if path == "/login":
                return self.login(start_response, query)
            if path == "/acs" and method == "POST":
                return self.assertion_consumer(environ, start_response)
            if path == "/logout":
                return self.logout(environ, start_response)
            if path == "/slo":
                return self.single_logout(environ, start_response, query)
            if path == "/":
                return self.whoami(environ, start_response)
            return self.page(start_response, "404 Not Found", "Not found", "")
        except Exception as error:  # noqa: BLE001 - the story reads the refusal on the page
            print(f"{self.name}: {type(error).__name__}: {error}", file=sys.stderr)
            return self.page(
                start_response,
                "400 Bad Request",
                "pysaml2 refused",
                f'<p id="error">{html.escape(type(error).__name__)}: {html.escape(str(error))}</p>',
            )

    def login(self, start_response, query):
        binding = BINDINGS[query.get("binding", "redirect")]
        request_id, info = self.client.prepare_for_authenticate(
            relay_state=query.get("relay_state", "/"),
            binding=binding,
            sign=True,
            sigalg=SIG_RSA_SHA256,
            digest_alg=DIGEST_SHA256,
            force_authn="true" if query.get("force") else None,
        )
        self.outstanding[request_id] = query.get("relay_state", "/")
        return self.send(start_response, info)

    def assertion_consumer(self, environ, start_response):
        form = self.form(environ)
        response = self.client.parse_authn_request_response(
            form["SAMLResponse"], BINDING_HTTP_POST, outstanding=self.outstanding
        )
        if response is None:
            raise ValueError("no response")
        self.outstanding.pop(response.in_response_to, None)
        name_id = response.name_id
        session = {
            "name_id": name_id,
            "name_id_format": name_id.format,
            "session_index": response.session_info().get("session_index"),
            "attributes": response.ava,
            "relay_state": form.get("RelayState", ""),
            "solicited": bool(response.in_response_to),
            # pysaml2 drops the encrypted form once decrypted: look at what arrived.
            "encrypted": bool(response_from_string(b64decode(form["SAMLResponse"])).encrypted_assertion),
        }
        token = secrets.token_urlsafe(16)
        self.sessions[token] = session
        cookie = f"{self.cookie}={token}; Path=/; HttpOnly; SameSite=Lax"
        return self.page(
            start_response, "200 OK", f"Signed in to {self.name}", self.describe(session), [("Set-Cookie", cookie)]
        )

    def whoami(self, environ, start_response):
        session = self.session(environ)
        if session is None or not self.client.is_logged_in(session["name_id"]):
            return self.page(start_response, "200 OK", f"Not signed in to {self.name}", "")
        return self.page(start_response, "200 OK", f"Signed in to {self.name}", self.describe(session))

    def logout(self, environ, start_response):
        session = self.session(environ)
        if session is None:
            return self.page(start_response, "200 OK", f"Not signed in to {self.name}", "")
        result = self.client.global_logout(session["name_id"], sign=True, sign_alg=SIG_RSA_SHA256)
        [(_binding, info)] = result.values()
        return self.send(start_response, info)

    def single_logout(self, environ, start_response, query):
        if environ["REQUEST_METHOD"] == "POST":
            query = self.form(environ)
        session = self.session(environ)
        if "SAMLResponse" in query:
            # The answer to our own LogoutRequest.
            response = self.client.parse_logout_request_response(query["SAMLResponse"], BINDING_HTTP_REDIRECT)
            status = response.response.status.status_code.value
            self.client.handle_logout_response(response)
            self.forget(environ)
            body = f'<p>Status: <code id="status">{html.escape(status)}</code></p>'
            return self.page(start_response, "200 OK", f"Signed out of {self.name}", body)
        # The IdP tells us the member signed out elsewhere.
        name_id = session["name_id"] if session else None
        info = self.client.handle_logout_request(
            query["SAMLRequest"],
            name_id,
            BINDING_HTTP_REDIRECT,
            sign=True,
            sign_alg=SIG_RSA_SHA256,
            relay_state=query.get("RelayState"),
            sigalg=query.get("SigAlg"),
            signature=query.get("Signature"),
        )
        self.forget(environ)
        return self.send(start_response, info)

    # --- plumbing

    def session(self, environ):
        cookies = SimpleCookie(environ.get("HTTP_COOKIE", ""))
        morsel = cookies.get(self.cookie)
        return self.sessions.get(morsel.value) if morsel else None

    def forget(self, environ):
        cookies = SimpleCookie(environ.get("HTTP_COOKIE", ""))
        morsel = cookies.get(self.cookie)
        if morsel:
            self.sessions.pop(morsel.value, None)

    @staticmethod
    def form(environ):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length).decode("utf-8")
        return {k: v[0] for k, v in parse_qs(body).items()}

    @staticmethod
    def describe(session):
        attributes = "".join(
            f'<li data-attribute="{html.escape(k)}">{html.escape(k)}: {html.escape(", ".join(v))}</li>'
            for k, v in sorted(session["attributes"].items())
        )
        return (
            f'<p>NameID: <code id="name-id">{html.escape(session["name_id"].text)}</code></p>'
            f'<p>Format: <code id="name-id-format">{html.escape(session["name_id_format"] or "")}</code></p>'
            f'<p>Session index: <code id="session-index">{html.escape(session["session_index"] or "")}</code></p>'
            f'<p>RelayState: <code id="relay-state">{html.escape(session["relay_state"])}</code></p>'
            f'<p>Solicited: <code id="solicited">{session["solicited"]}</code></p>'
            f'<p>Encrypted assertion: <code id="encrypted">{session["encrypted"]}</code></p>'
            f'<ul id="attributes">{attributes}</ul>'
        )

    @staticmethod
    def send(start_response, info):
        """pysaml2's binding output: a redirect or an auto-submitting form."""
        headers = [(k, v) for k, v in info["headers"]]
        if any(k.lower() == "location" for k, _ in headers):
            start_response("303 See Other", headers)
            return [b""]
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
        return [info["data"].encode("utf-8")]

    def page(self, start_response, status, title, body, headers=()):
        document = (
            f"<!doctype html><title>{html.escape(title)}</title>"
            f"<h1>{html.escape(title)}</h1>{body}"
        )
        return self.reply(start_response, status, document, "text/html; charset=utf-8", headers)

    @staticmethod
    def reply(start_response, status, body, content_type, headers=()):
        data = body if isinstance(body, bytes) else body.encode("utf-8")
        start_response(status, [("Content-Type", content_type), *headers])
        return [data]


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--name", required=True)
    parser.add_argument("--idp-metadata", required=True)
    parser.add_argument("--want", choices=["assertion", "response", "both"], default="assertion")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix=f"saml-sp-{args.name}-"))
    server = make_server("127.0.0.1", args.port, lambda e, s: app(e, s), handler_class=QuietHandler)
    origin = f"http://127.0.0.1:{server.server_port}"
    app = ServiceProvider(sp_config(origin, args.name, args.idp_metadata, args.want, folder), args.name)
    print(f"listening on {origin}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()

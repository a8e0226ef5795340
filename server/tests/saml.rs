#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The SAML IdP on a tenant's domain, driven as a service provider and a member's browser would:
//! SP-initiated sign-in over both bindings, the IdP-initiated link, NameID formats, the statuses
//! for what the seed crosses out, single logout both ways, and every hostile input the issue
//! lists. Responses are checked with libxmlsec1 against the tenant's published certificate.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use tower::ServiceExt;
use vestibule_domain::{TenantId, Timestamp};
use vestibule_members::NewDirectoryMember;
use vestibule_saml::{
    decode_redirect, logout_request, logout_response, sign_enveloped, signed_redirect_query,
    verified_element, AssertionConsumer, LogoutAddress, NameIdFormat, RedirectQuery, SamlAppInput,
    SignedPartsSetting, SigningKey, STATUS_SUCCESS,
};
use vestibule_server::{tenant_edge, Config, Engines};
use vestibule_settings::SettingsInput;
use vestibule_storage::testing::{sqlite, TestDatabase};

#[path = "support/form.rs"]
mod form_encoding;
mod support;
use form_encoding::{form, urlencode};
use support::http::Reply;

const HOST: &str = "sso.acme.localhost:8080";
const ORIGIN: &str = "http://sso.acme.localhost:8080";
const IDP_ENTITY: &str = "http://sso.acme.localhost:8080/saml/metadata";
const IDP_SSO: &str = "http://sso.acme.localhost:8080/saml/sso";
const IDP_SLO: &str = "http://sso.acme.localhost:8080/saml/slo";
const SP: &str = "https://events.example.org/saml";
const ACS: &str = "https://events.example.org/saml/acs";
const ACS_2: &str = "https://events.example.org/saml/acs2";
const SP_SLO: &str = "https://events.example.org/saml/slo";
const SP_2: &str = "https://learning.example.org/saml";
const SP_2_ACS: &str = "https://learning.example.org/saml/acs";
const SP_2_SLO: &str = "https://learning.example.org/saml/slo";
const POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";

struct Idp {
    router: Router,
    engines: Engines,
    acme: TenantId,
    app_id: String,
    /// The service provider's key: signs its requests, its certificate is registered.
    sp_key: SigningKey,
    _db: TestDatabase,
}

/// The SAML answers a reply carries.
trait SamlReply {
    fn posted(&self) -> Posted;
}

impl SamlReply for Reply {
    /// The auto-posting form: where it posts and what.
    fn posted(&self) -> Posted {
        assert_eq!(self.status, StatusCode::OK, "{}", self.body);
        let attribute = |marker: &str| -> Option<String> {
            let start = self.body.find(marker)? + marker.len();
            let end = self.body[start..].find('"')? + start;
            Some(unescape(&self.body[start..end]))
        };
        let action = attribute("<form method=\"post\" action=\"").expect("a POST form");
        let response = attribute("name=\"SAMLResponse\" value=\"").expect("SAMLResponse");
        let xml = String::from_utf8(STANDARD.decode(response).unwrap()).unwrap();
        Posted {
            action,
            xml,
            relay_state: attribute("name=\"RelayState\" value=\""),
        }
    }
}

struct Posted {
    action: String,
    xml: String,
    relay_state: Option<String>,
}

fn unescape(value: &str) -> String {
    value
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn pem(der: &[u8]) -> String {
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        STANDARD.encode(der)
    )
}

fn app(name: &str, entity: &str, acs: &[&str], slo: &str) -> SamlAppInput {
    SamlAppInput {
        name: name.into(),
        entity_id: entity.into(),
        assertion_consumers: acs
            .iter()
            .enumerate()
            .map(|(index, url)| AssertionConsumer {
                url: (*url).into(),
                index: index as u32,
                is_default: index == 0,
            })
            .collect(),
        single_logout: Some(slo.into()),
        name_id_format: NameIdFormat::EmailAddress,
        ..SamlAppInput::default()
    }
}

async fn idp(adjust: impl FnOnce(&mut SamlAppInput)) -> Idp {
    let db = sqlite().await;
    let store = db.store().clone();
    let now = Timestamp::now();
    let acme = store
        .create_tenant(&"acme".parse().unwrap(), "Acme", now)
        .await
        .unwrap()
        .id;
    let config = Config {
        // Not the default, to see the setting reach the assertions.
        saml: vestibule_server::config::SamlConfig {
            clock_skew_seconds: 90,
            ..Default::default()
        },
        ..support::config(&["sso.acme.localhost=acme"])
    };
    let engines = support::engines(&config, store.clone());
    let settings = SettingsInput {
        identity_source: "directory".into(),
        brand_name: "Acme Association".into(),
        ..SettingsInput::default()
    };
    engines.settings.save(acme, settings, now).await.unwrap();
    engines
        .members
        .add_directory_member(
            acme,
            NewDirectoryMember {
                username: "jane".into(),
                email: "jane@acme.test".into(),
                given_name: "Jane".into(),
                family_name: "Member".into(),
                password: "jane-member-password".into(),
            },
            now,
        )
        .await
        .unwrap();
    // Another tenant's SAML key plays the service provider's: a real RSA key and certificate.
    let sp_tenant = store
        .create_tenant(&"events".parse().unwrap(), "Events", now)
        .await
        .unwrap()
        .id;
    let sp_key = engines
        .saml
        .keys
        .signing_key(sp_tenant, "events.example.org", now)
        .await
        .unwrap();
    let mut input = app("Events", SP, &[ACS, ACS_2], SP_SLO);
    input.sp_certificate = Some(pem(&sp_key.certificate_der));
    adjust(&mut input);
    let created = engines.saml.apps.create(acme, input, now).await.unwrap();
    let router = tenant_edge::plain_http_router(
        engines.provisioning.clone(),
        8443,
        engines.member_site(&config).unwrap(),
    );
    Idp {
        router,
        engines,
        acme,
        app_id: created.app_id,
        sp_key,
        _db: db,
    }
}

fn now_xml() -> String {
    Timestamp::now().to_xml_datetime()
}

/// An AuthnRequest from the Events service provider; tests vary it by replacing text.
fn authn_request(id: &str) -> String {
    format!(
        "<samlp:AuthnRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" \
         xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"{id}\" Version=\"2.0\" \
         IssueInstant=\"{now}\" Destination=\"{IDP_SSO}\" AssertionConsumerServiceURL=\"{ACS}\" \
         ProtocolBinding=\"{POST}\"><saml:Issuer>{SP}</saml:Issuer>\
         <samlp:NameIDPolicy AllowCreate=\"true\"/></samlp:AuthnRequest>",
        now = now_xml()
    )
}

/// The Redirect binding's query for `xml`, signed with `key` or not.
fn redirect_query(xml: &str, relay_state: Option<&str>, key: &SigningKey, sign: bool) -> String {
    let signed = signed_redirect_query("SAMLRequest", xml, relay_state, key).unwrap();
    if sign {
        signed
    } else {
        signed.split("&SigAlg=").next().unwrap().to_string()
    }
}

impl Idp {
    async fn send(&self, request: Request<Body>) -> Reply {
        support::http::send(&self.router, request).await
    }

    async fn get(&self, path: &str, cookie: Option<&str>) -> Reply {
        let mut request = Request::get(path).header(header::HOST, HOST);
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        self.send(request.body(Body::empty()).unwrap()).await
    }

    /// A form post from the member's browser; `origin` is the page that posted it.
    async fn post(&self, path: &str, body: String, cookie: Option<&str>, origin: &str) -> Reply {
        let mut request = Request::post(path)
            .header(header::HOST, HOST)
            .header(header::ORIGIN, origin)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        support::http::send(&self.router, request.body(Body::from(body)).unwrap()).await
    }

    /// Signs in on the hosted form, going on to `return_to`; the session cookie and where next.
    async fn sign_in(&self, return_to: &str) -> (String, String) {
        let jane = ("jane", "jane-member-password");
        support::http::sign_in_on_hosted_form(&self.router, ORIGIN, jane, return_to).await
    }

    /// The certificate the tenant's metadata publishes (made on first use).
    async fn idp_certificate(&self) -> Vec<u8> {
        self.engines
            .saml
            .keys
            .signing_key(self.acme, "acme", Timestamp::now())
            .await
            .unwrap()
            .certificate_der
    }

    /// The member signs in through a Redirect-binding request; the posted response.
    async fn sign_in_with(&self, xml: &str, relay_state: Option<&str>) -> (String, Posted) {
        let query = redirect_query(xml, relay_state, &self.sp_key, true);
        let reply = self.get(&format!("/saml/sso?{query}"), None).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
        let login = reply.location();
        let return_to = login.strip_prefix("/login?return_to=").expect(&login);
        let return_to = unescape_query(return_to);
        assert!(
            return_to.starts_with("/saml/continue?request="),
            "{return_to}"
        );
        let (cookie, next) = self.sign_in(&return_to).await;
        assert_eq!(next, return_to);
        let posted = self.get(&next, Some(&cookie)).await.posted();
        (cookie, posted)
    }
}

fn unescape_query(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(&value[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// The signed response (or, when only the assertion is signed, the assertion) libxmlsec1
/// verified against the IdP's certificate, as a service provider checks it.
fn verified(xml: &str, certificate: &[u8]) -> String {
    match vestibule_xmldsig::verify_enveloped(xml, certificate) {
        Ok(response) => response,
        Err(vestibule_xmldsig::XmlDsigError::NoSignature) => {
            let start = xml.find("<saml:Assertion").expect("an assertion");
            let end = xml.find("</saml:Assertion>").unwrap() + "</saml:Assertion>".len();
            vestibule_xmldsig::verify_enveloped(&xml[start..end], certificate)
                .unwrap_or_else(|e| panic!("{e}: {xml}"))
        }
        Err(error) => panic!("{error}: {xml}"),
    }
}

fn name_id(xml: &str) -> String {
    let start = xml.find("<saml:NameID").unwrap();
    let start = xml[start..].find('>').unwrap() + start + 1;
    let end = xml[start..].find("</saml:NameID>").unwrap() + start;
    xml[start..end].to_string()
}

fn between<'a>(xml: &'a str, before: &str, after: &str) -> &'a str {
    let start = xml
        .find(before)
        .unwrap_or_else(|| panic!("{before} in {xml}"))
        + before.len();
    let end = xml[start..].find(after).unwrap() + start;
    &xml[start..end]
}

#[tokio::test]
async fn sp_initiated_redirect_binding_signs_the_member_in_once() {
    let idp = idp(|_| {}).await;
    let request = authn_request("_req-redirect-1");
    let (_, posted) = idp
        .sign_in_with(&request, Some("https://events.example.org/talks?id=7&x=1"))
        .await;
    assert_eq!(posted.action, ACS);
    assert_eq!(
        posted.relay_state.as_deref(),
        Some("https://events.example.org/talks?id=7&x=1")
    );
    let xml = &posted.xml;
    assert!(xml.contains(&format!("Destination=\"{ACS}\"")), "{xml}");
    assert!(xml.contains("InResponseTo=\"_req-redirect-1\""), "{xml}");
    assert!(xml.contains(":status:Success"), "{xml}");
    // The assertion is what the signature covers (the default: sign the assertion).
    let assertion = verified(xml, &idp.idp_certificate().await);
    assert!(assertion.starts_with("<saml:Assertion"), "{assertion}");
    assert!(assertion.contains(&format!("<saml:Issuer>{IDP_ENTITY}</saml:Issuer>")));
    assert!(assertion.contains(&format!("<saml:Audience>{SP}</saml:Audience>")));
    assert!(assertion.contains(&format!("Recipient=\"{ACS}\"")));
    assert!(assertion.contains("Method=\"urn:oasis:names:tc:SAML:2.0:cm:bearer\""));
    assert!(assertion.contains("InResponseTo=\"_req-redirect-1\""));
    assert!(assertion.contains("ac:classes:PasswordProtectedTransport"));
    assert!(assertion.contains("SessionIndex=\"_"));
    assert!(assertion.contains("nameid-format:emailAddress"));
    assert_eq!(name_id(&assertion), "jane@acme.test");
    assert!(assertion.contains(
        "<saml:Attribute Name=\"firstName\" NameFormat=\"urn:oasis:names:tc:SAML:2.0:attrname-format:basic\">"
    ));
    assert!(assertion.contains(">Jane</saml:AttributeValue>"));
    // Conditions: valid from the configured skew back to the app's five minutes on.
    let instant = |at: &str| {
        chrono::DateTime::parse_from_rfc3339(between(&assertion, at, "\""))
            .unwrap()
            .timestamp()
    };
    let issued = instant("IssueInstant=\"");
    assert_eq!(issued - instant("<saml:Conditions NotBefore=\""), 90);
    assert_eq!(instant("\" NotOnOrAfter=\"") - issued, 300);

    // The same request again is a replay; the continue link is spent.
    let query = redirect_query(&request, None, &idp.sp_key, true);
    let replay = idp.get(&format!("/saml/sso?{query}"), None).await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST);
    assert!(replay.body.contains("already used"), "{}", replay.body);

    // The audit log has the one sign-in, against the application it was for.
    let filter = vestibule_audit::filter("sign_in", "");
    let events = idp.engines.audit.search(idp.acme, &filter).await.unwrap();
    let found: Vec<_> = events
        .iter()
        .map(|e| (e.actor.as_str(), e.action.as_str(), e.target.as_str()))
        .collect();
    let target = format!("SAML app Events ({})", idp.app_id);
    assert_eq!(found, vec![("jane", "sign_in.succeeded", target.as_str())]);
}

#[tokio::test]
async fn a_signed_in_member_is_answered_at_once_and_the_continue_link_is_single_use() {
    let idp = idp(|_| {}).await;
    let (cookie, _) = idp.sign_in("/").await;
    let query = redirect_query(&authn_request("_req-signed-in"), None, &idp.sp_key, true);
    let reply = idp.get(&format!("/saml/sso?{query}"), Some(&cookie)).await;
    let posted = reply.posted();
    assert!(posted.xml.contains("InResponseTo=\"_req-signed-in\""));
    // The POST page runs one script, our own, and nothing inline.
    let policy = reply.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(policy.contains("script-src 'self'"), "{policy}");
    assert!(reply
        .body
        .contains("<script src=\"/saml/post.js\"></script>"));
    let script = idp.get("/saml/post.js", None).await;
    assert!(script.body.contains("submit()"));

    // A continue link that was never issued, or was used, shows a page.
    let stale = idp
        .get("/saml/continue?request=not-a-request", Some(&cookie))
        .await;
    assert_eq!(stale.status, StatusCode::BAD_REQUEST);
    assert!(stale.body.contains("already finished"), "{}", stale.body);
}

#[tokio::test]
async fn post_binding_with_a_signed_request_and_an_acs_chosen_by_index() {
    let idp = idp(|app| {
        app.require_signed_requests = true;
        app.signed = SignedPartsSetting::Both;
    })
    .await;
    let (cookie, _) = idp.sign_in("/").await;
    let xml = authn_request("_req-post-1").replace(
        &format!("AssertionConsumerServiceURL=\"{ACS}\" ProtocolBinding=\"{POST}\""),
        "AssertionConsumerServiceIndex=\"1\"",
    );
    let signed = sign_enveloped(&xml, "_req-post-1", &idp.sp_key).unwrap();
    let body = form(&[
        ("SAMLRequest", &STANDARD.encode(&signed)),
        ("RelayState", "token-42"),
    ]);
    let posted = idp
        .post(
            "/saml/sso",
            body,
            Some(&cookie),
            "https://events.example.org",
        )
        .await
        .posted();
    assert_eq!(posted.action, ACS_2);
    assert_eq!(posted.relay_state.as_deref(), Some("token-42"));
    // Both signed: the response's signature covers everything, the assertion's signature
    // stands on its own once the assertion is taken out of the response.
    let certificate = idp.idp_certificate().await;
    let xml = &posted.xml;
    assert_eq!(xml.matches("<ds:Signature xmlns").count(), 2, "{xml}");
    let response = verified(xml, &certificate);
    assert!(response.starts_with("<samlp:Response"), "{response}");
    assert!(response.contains("<saml:Assertion"));
    let assertion_start = xml.find("<saml:Assertion").unwrap();
    let assertion_end = xml.find("</saml:Assertion>").unwrap() + "</saml:Assertion>".len();
    let assertion = verified(&xml[assertion_start..assertion_end], &certificate);
    assert!(assertion.contains("InResponseTo=\"_req-post-1\""));
    // Taking the assertion out breaks the response's signature.
    let without_assertion = format!("{}{}", &xml[..assertion_start], &xml[assertion_end..]);
    assert!(verified_element(&without_assertion, &certificate).is_err());
}

#[tokio::test]
async fn signatures_are_required_when_the_app_asks_and_cannot_be_bypassed() {
    let idp = idp(|app| app.require_signed_requests = true).await;
    let (cookie, _) = idp.sign_in("/").await;
    let refused = |reply: &Reply, words: &str| {
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
        assert!(reply.body.contains(words), "{words}: {}", reply.body);
        assert!(!reply.body.contains("SAMLResponse"));
    };

    // Redirect binding, unsigned.
    let query = redirect_query(&authn_request("_unsigned"), None, &idp.sp_key, false);
    refused(
        &idp.get(&format!("/saml/sso?{query}"), Some(&cookie)).await,
        "not signed",
    );

    // Redirect binding, signed, then RelayState changed in transit.
    let query = redirect_query(&authn_request("_tampered"), Some("a"), &idp.sp_key, true)
        .replace("RelayState=a", "RelayState=b");
    refused(
        &idp.get(&format!("/saml/sso?{query}"), Some(&cookie)).await,
        "signature",
    );

    // Redirect binding, signed by someone else's key.
    let other = idp
        .engines
        .saml
        .keys
        .signing_key(idp.acme, "acme", Timestamp::now())
        .await
        .unwrap();
    let query = redirect_query(&authn_request("_other-key"), None, &other, true);
    refused(
        &idp.get(&format!("/saml/sso?{query}"), Some(&cookie)).await,
        "signature",
    );

    // Redirect binding, RSA-SHA1.
    let query = redirect_query(&authn_request("_sha1"), None, &idp.sp_key, true)
        .replace("xmldsig-more%23rsa-sha256", "xmldsig%23rsa-sha1");
    refused(
        &idp.get(&format!("/saml/sso?{query}"), Some(&cookie)).await,
        "not accepted",
    );

    // POST binding, unsigned.
    let post = |xml: &str| form(&[("SAMLRequest", &STANDARD.encode(xml))]);
    let origin = "https://events.example.org";
    let reply = idp
        .post(
            "/saml/sso",
            post(&authn_request("_post-unsigned")),
            Some(&cookie),
            origin,
        )
        .await;
    refused(&reply, "not signed");

    // POST binding, signed, then the ACS changed: the digest no longer matches.
    let signed = sign_enveloped(&authn_request("_post-edited"), "_post-edited", &idp.sp_key)
        .unwrap()
        .replace(ACS, ACS_2);
    let reply = idp
        .post("/saml/sso", post(&signed), Some(&cookie), origin)
        .await;
    refused(&reply, "signature");

    // Signature wrapping: a validly signed request moved inside an unsigned one that asks for
    // another consumer service, its signature moved to the new root (still referencing the
    // genuine element, so libxmlsec1 finds it valid). Only the signed element is read: the
    // answer goes where the signed request said, in response to its ID.
    let genuine = sign_enveloped(&authn_request("_genuine"), "_genuine", &idp.sp_key).unwrap();
    let genuine = genuine[genuine.find("<samlp:AuthnRequest").unwrap()..]
        .trim()
        .to_string();
    let signature_start = genuine.find("<ds:Signature xmlns").unwrap();
    let signature_end = genuine.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
    let signature = &genuine[signature_start..signature_end];
    let unsigned_genuine = format!(
        "{}{}",
        &genuine[..signature_start],
        &genuine[signature_end..]
    );
    let wrapper = |with_signature: bool| {
        authn_request("_wrapper")
            .replace(
                &format!("AssertionConsumerServiceURL=\"{ACS}\""),
                &format!("AssertionConsumerServiceURL=\"{ACS_2}\""),
            )
            .replace(
                &format!("<saml:Issuer>{SP}</saml:Issuer>"),
                &format!(
                    "<saml:Issuer>{SP}</saml:Issuer>{}",
                    if with_signature { signature } else { "" }
                ),
            )
            .replace(
                "<samlp:NameIDPolicy AllowCreate=\"true\"/>",
                &format!("<samlp:Extensions>{unsigned_genuine}</samlp:Extensions>"),
            )
    };
    // A signature over anything but its own message is refused before verification (it was
    // once verified and only the signed element read; now its shape alone refuses it).
    let reply = idp
        .post("/saml/sso", post(&wrapper(true)), Some(&cookie), origin)
        .await;
    refused(&reply, "own ID is accepted");
    // A validly signed request hidden in the Extensions of an unsigned one.
    let hidden = authn_request("_outer").replace(
        "<samlp:NameIDPolicy AllowCreate=\"true\"/>",
        &format!("<samlp:Extensions>{genuine}</samlp:Extensions>"),
    );
    let reply = idp
        .post("/saml/sso", post(&hidden), Some(&cookie), origin)
        .await;
    refused(&reply, "signature-wrapping");
    // Without a signature on its root, the wrapper is simply unsigned.
    let reply = idp
        .post("/saml/sso", post(&wrapper(false)), Some(&cookie), origin)
        .await;
    refused(&reply, "not signed");
}

/// What the outside review sent: signatures whose Reference or transforms reach outside the
/// message. Each is refused by its shape, on both bindings and on the logout endpoint, before
/// libxmlsec1 sees it: no connection arrives at the listener the signature names, and the
/// server answers at once afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signatures_reaching_outside_their_message_are_refused_before_verification() {
    let idp = idp(|_| {}).await;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let address = listener.local_addr().unwrap();
    let genuine = |id: &str| {
        let signed = sign_enveloped(&authn_request(id), id, &idp.sp_key).unwrap();
        signed[signed.find("<samlp:AuthnRequest").unwrap()..]
            .trim()
            .to_string()
    };
    let exclusive = "<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>";
    let xslt = format!(
        "<ds:Transform Algorithm=\"http://www.w3.org/TR/1999/REC-xslt-19991116\">\
         <xsl:stylesheet xmlns:xsl=\"http://www.w3.org/1999/XSL/Transform\" version=\"1.0\">\
         <xsl:template match=\"/\"><xsl:copy-of select=\"document('http://{address}/xslt')\"/>\
         </xsl:template></xsl:stylesheet></ds:Transform>"
    );
    let signature_of = |xml: &str| {
        let start = xml.find("<ds:Signature").unwrap();
        let end = xml.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
        xml[start..end].to_string()
    };
    let two = genuine("_two");
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "file reference",
            genuine("_file").replace("URI=\"#_file\"", "URI=\"file:///dev/zero\""),
            "points to \"file:///dev/zero\"",
        ),
        (
            "http reference",
            genuine("_http").replace("URI=\"#_http\"", &format!("URI=\"http://{address}/ref\"")),
            "only \"#\" followed by the message's own ID",
        ),
        (
            "XSLT transform",
            genuine("_xslt").replacen(exclusive, &xslt, 1),
            "REC-xslt-19991116 is not accepted",
        ),
        (
            "Manifest",
            genuine("_manifest").replace(
                "</ds:Signature>",
                &format!(
                    "<ds:Object><ds:Manifest><ds:Reference URI=\"http://{address}/manifest\">\
                     <ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/>\
                     <ds:DigestValue>AA==</ds:DigestValue></ds:Reference></ds:Manifest>\
                     </ds:Object></ds:Signature>"
                ),
            ),
            "carries an Object",
        ),
        (
            "two signatures",
            two.replace("</ds:Signature>", &format!("</ds:Signature>{}", signature_of(&two))),
            "more than one signature",
        ),
        (
            "reference to another ID",
            genuine("_self")
                .replace("URI=\"#_self\"", "URI=\"#_elsewhere\"")
                .replace(
                    "<samlp:NameIDPolicy",
                    "<samlp:Extensions><x ID=\"_elsewhere\"/></samlp:Extensions><samlp:NameIDPolicy",
                ),
            "points to \"#_elsewhere\"",
        ),
        (
            "RetrievalMethod",
            genuine("_rm").replace(
                "<ds:X509Data>",
                &format!("<ds:RetrievalMethod URI=\"http://{address}/key\"/><ds:X509Data>"),
            ),
            "RetrievalMethod",
        ),
    ];
    let origin = "https://events.example.org";
    for (case, xml, words) in &cases {
        let deflated = {
            use std::io::Write;
            let mut deflater =
                flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
            deflater.write_all(xml.as_bytes()).unwrap();
            STANDARD.encode(deflater.finish().unwrap())
        };
        let replies = [
            (
                "POST /saml/sso",
                idp.post(
                    "/saml/sso",
                    form(&[("SAMLRequest", &STANDARD.encode(xml))]),
                    None,
                    origin,
                )
                .await,
            ),
            (
                "GET /saml/sso",
                idp.get(
                    &format!("/saml/sso?SAMLRequest={}", urlencode(&deflated)),
                    None,
                )
                .await,
            ),
            (
                "POST /saml/slo",
                idp.post(
                    "/saml/slo",
                    form(&[("SAMLRequest", &STANDARD.encode(xml))]),
                    None,
                    origin,
                )
                .await,
            ),
            (
                "GET /saml/slo",
                idp.get(
                    &format!("/saml/slo?SAMLRequest={}", urlencode(&deflated)),
                    None,
                )
                .await,
            ),
        ];
        for (route, reply) in replies {
            assert_eq!(
                reply.status,
                StatusCode::BAD_REQUEST,
                "{case} {route}: {}",
                reply.body
            );
            assert!(
                reply.body.contains("The signature is refused")
                    || reply.body.contains("the signature is refused"),
                "{case} {route}: {}",
                reply.body
            );
            assert!(
                unescape(&reply.body).contains(words),
                "{case} {route}: {words} in {}",
                reply.body
            );
            assert!(!reply.body.contains("SAMLResponse"), "{case} {route}");
        }
    }
    assert!(
        listener.accept().is_err(),
        "the IdP connected to the address a signature named"
    );
    let started = std::time::Instant::now();
    assert_eq!(idp.get("/saml/metadata", None).await.status, StatusCode::OK);
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
}

#[tokio::test]
async fn hostile_requests_get_an_error_page_and_no_response() {
    let idp = idp(|_| {}).await;
    let (cookie, _) = idp.sign_in("/").await;
    let old = Timestamp(Timestamp::now().0 - 3600).to_xml_datetime();
    let future = Timestamp(Timestamp::now().0 + 3600).to_xml_datetime();
    let base = |id: &str| authn_request(id);
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "unknown issuer",
            base("_c1").replace(SP, "https://stranger.example.org/saml"),
            "is not registered",
        ),
        (
            "unregistered ACS URL",
            base("_c2").replace(ACS, "https://evil.example.org/acs"),
            "is not registered for Events",
        ),
        (
            "unregistered ACS index",
            base("_c3").replace(
                &format!("AssertionConsumerServiceURL=\"{ACS}\""),
                "AssertionConsumerServiceIndex=\"9\"",
            ),
            "index 9",
        ),
        (
            "stale IssueInstant",
            base("_c4").replacen("IssueInstant=\"", &format!("IssueInstant=\"{old}\" X=\""), 1),
            "too old",
        ),
        (
            "future IssueInstant",
            base("_c5").replacen("IssueInstant=\"", &format!("IssueInstant=\"{future}\" X=\""), 1),
            "in the future",
        ),
        (
            "another IdP's Destination",
            base("_c6").replace(IDP_SSO, "https://other-idp.example.org/sso"),
            "not to this sign-in service",
        ),
        (
            "XXE",
            format!(
                "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>{}",
                base("_c7").replace(SP, "&x;")
            ),
            "DTD",
        ),
        (
            "billion laughs",
            format!(
                "<!DOCTYPE r [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;\">]>{}",
                base("_c8").replace(SP, "&b;")
            ),
            "DTD",
        ),
        (
            "SAML 1.1",
            base("_c9").replace("Version=\"2.0\"", "Version=\"1.1\""),
            "version 1.1",
        ),
        (
            "not an AuthnRequest",
            base("_c10")
                .replace("samlp:AuthnRequest", "samlp:ArtifactResolve"),
            "found ArtifactResolve",
        ),
    ];
    for (case, xml, words) in cases {
        let query = redirect_query(&xml, None, &idp.sp_key, false);
        let reply = idp.get(&format!("/saml/sso?{query}"), Some(&cookie)).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{case}: {}",
            reply.body
        );
        assert!(
            reply.body.contains(words),
            "{case}: {words} in {}",
            reply.body
        );
        assert!(!reply.body.contains("SAMLResponse"), "{case}");
    }

    // A deflate bomb: a megabyte of zeros deflates to about a kilobyte.
    let bomb = {
        use std::io::Write;
        let mut deflater =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        deflater.write_all(&vec![b' '; 1 << 20]).unwrap();
        STANDARD.encode(deflater.finish().unwrap())
    };
    let reply = idp
        .get(
            &format!("/saml/sso?SAMLRequest={}", urlencode(&bomb)),
            Some(&cookie),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.body.contains("larger than"), "{}", reply.body);

    // RelayState over 80 bytes.
    let query = redirect_query(&base("_c11"), Some(&"r".repeat(81)), &idp.sp_key, false);
    let reply = idp.get(&format!("/saml/sso?{query}"), Some(&cookie)).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.body.contains("80 bytes"), "{}", reply.body);

    // A body over the member site's limit: the branded page, with 413.
    for path in ["/saml/sso", "/saml/slo"] {
        let body = form(&[("SAMLRequest", &"A".repeat(100 * 1024))]);
        let reply = idp
            .post(path, body, None, "https://events.example.org")
            .await;
        assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE, "{path}");
        assert!(
            reply.body.contains("Acme Association"),
            "{path}: {}",
            reply.body
        );
        assert!(reply.body.contains("larger than"), "{path}: {}", reply.body);
    }

    // A head over the listener's limits (a huge Redirect-binding URL): the branded page, 431,
    // and the request itself never reaches the SAML endpoint.
    let limited = vestibule_server::listen::with_head_limits(idp.router.clone());
    let path = format!("/saml/sso?SAMLRequest={}", "A".repeat(40 * 1024));
    let response = limited
        .oneshot(
            Request::get(&path)
                .header(header::HOST, HOST)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
    );
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    let body = String::from_utf8_lossy(&body);
    assert!(body.contains("Acme Association"), "{body}");
    assert!(body.contains("too large"), "{body}");

    // No request at all, and garbage.
    let reply = idp.get("/saml/sso", Some(&cookie)).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let reply = idp.get("/saml/sso?SAMLRequest=%%%", Some(&cookie)).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
}

/// The statuses for what the seed crosses out, signed and posted to the registered ACS.
#[tokio::test]
async fn unsupported_requests_get_the_saml_status_that_names_why() {
    let idp = idp(|_| {}).await;
    let certificate = idp.idp_certificate().await;
    let (cookie, _) = idp.sign_in("/").await;
    let cases = [
        (
            "X.509 subject NameID",
            authn_request("_s1").replace(
                "<samlp:NameIDPolicy AllowCreate=\"true\"/>",
                "<samlp:NameIDPolicy Format=\"urn:oasis:names:tc:SAML:1.1:nameid-format:X509SubjectName\"/>",
            ),
            "InvalidNameIDPolicy",
        ),
        (
            "Kerberos authentication",
            authn_request("_s2").replace(
                "<samlp:NameIDPolicy AllowCreate=\"true\"/>",
                "<samlp:RequestedAuthnContext Comparison=\"exact\"><saml:AuthnContextClassRef>\
                 urn:oasis:names:tc:SAML:2.0:ac:classes:Kerberos</saml:AuthnContextClassRef>\
                 </samlp:RequestedAuthnContext>",
            ),
            "NoAuthnContext",
        ),
        (
            "better than a password",
            authn_request("_s3").replace(
                "<samlp:NameIDPolicy AllowCreate=\"true\"/>",
                "<samlp:RequestedAuthnContext Comparison=\"better\"><saml:AuthnContextClassRef>\
                 urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport\
                 </saml:AuthnContextClassRef></samlp:RequestedAuthnContext>",
            ),
            "NoAuthnContext",
        ),
        (
            "the artifact binding",
            authn_request("_s4").replace(
                POST,
                "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact",
            ),
            "UnsupportedBinding",
        ),
    ];
    for (case, xml, status) in cases {
        let query = redirect_query(&xml, Some("rs"), &idp.sp_key, false);
        let posted = idp
            .get(&format!("/saml/sso?{query}"), Some(&cookie))
            .await
            .posted();
        assert_eq!(posted.action, ACS, "{case}");
        assert_eq!(posted.relay_state.as_deref(), Some("rs"));
        let response = verified(&posted.xml, &certificate);
        assert!(
            response.contains(&format!("urn:oasis:names:tc:SAML:2.0:status:{status}")),
            "{case}: {response}"
        );
        assert!(!response.contains("Assertion"), "{case}");
    }

    // Minimum Password is met by a password over HTTPS.
    let xml = authn_request("_s5").replace(
        "<samlp:NameIDPolicy AllowCreate=\"true\"/>",
        "<samlp:RequestedAuthnContext Comparison=\"minimum\"><saml:AuthnContextClassRef>\
         urn:oasis:names:tc:SAML:2.0:ac:classes:Password</saml:AuthnContextClassRef>\
         </samlp:RequestedAuthnContext>",
    );
    let query = redirect_query(&xml, None, &idp.sp_key, false);
    let posted = idp
        .get(&format!("/saml/sso?{query}"), Some(&cookie))
        .await
        .posted();
    assert!(posted.xml.contains(":status:Success"));

    // IsPassive without a session: NoPassive, no sign-in page.
    let xml = authn_request("_s6").replace("Version=\"2.0\"", "Version=\"2.0\" IsPassive=\"true\"");
    let query = redirect_query(&xml, None, &idp.sp_key, false);
    let posted = idp.get(&format!("/saml/sso?{query}"), None).await.posted();
    assert!(posted.xml.contains(":status:NoPassive"), "{}", posted.xml);

    // ForceAuthn with a session: the sign-in page again, showing the form to the signed-in
    // member. Review finding: the old session used to end right here, so any page could sign
    // a member out with a forged request; now it stays until the member signs in again.
    let xml =
        authn_request("_s7").replace("Version=\"2.0\"", "Version=\"2.0\" ForceAuthn=\"true\"");
    let query = redirect_query(&xml, None, &idp.sp_key, false);
    let reply = idp.get(&format!("/saml/sso?{query}"), Some(&cookie)).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert!(
        reply.location().starts_with("/login?again=1&return_to="),
        "{}",
        reply.location()
    );
    assert!(reply.headers.get(header::SET_COOKIE).is_none());
    let home = idp.get("/", Some(&cookie)).await;
    assert!(home.body.contains("You are signed in"), "the session stays");
    let form = idp.get(&reply.location(), Some(&cookie)).await;
    assert!(form.body.contains("sign in again"), "{}", form.body);
    assert!(form.body.contains("name=\"password\""), "{}", form.body);
    let return_to = unescape_query(
        reply
            .location()
            .strip_prefix("/login?again=1&return_to=")
            .unwrap(),
    );
    // The session the request arrived with cannot answer it, even straight away.
    let bypass = idp.get(&return_to, Some(&cookie)).await;
    assert_eq!(bypass.status, StatusCode::SEE_OTHER);
    assert!(
        bypass.location().starts_with("/login?again=1"),
        "{}",
        bypass.location()
    );
    let (fresh, next) = idp.sign_in(&return_to).await;
    let posted = idp.get(&next, Some(&fresh)).await.posted();
    assert!(posted.xml.contains("InResponseTo=\"_s7\""));
}

#[tokio::test]
async fn the_idp_initiated_link_signs_in_with_the_apps_relay_state() {
    let idp = idp(|app| app.default_relay_state = "/dashboard".into()).await;
    let (cookie, _) = idp.sign_in("/").await;
    let link = format!("/saml/idp/{}", idp.app_id);
    let posted = idp.get(&link, Some(&cookie)).await.posted();
    assert_eq!(posted.action, ACS);
    assert_eq!(posted.relay_state.as_deref(), Some("/dashboard"));
    assert!(!posted.xml.contains("InResponseTo"), "{}", posted.xml);
    verified(&posted.xml, &idp.idp_certificate().await);

    let posted = idp
        .get(&format!("{link}?RelayState=%2Fcourses%2F12"), Some(&cookie))
        .await
        .posted();
    assert_eq!(posted.relay_state.as_deref(), Some("/courses/12"));

    // Signed out: the link goes through the sign-in page first.
    let reply = idp.get(&link, None).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER);
    assert!(unescape_query(&reply.location()).starts_with("/login?return_to=/saml/continue"));

    let reply = idp.get("/saml/idp/no-such-app", Some(&cookie)).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let long = format!("{link}?RelayState={}", "r".repeat(81));
    assert_eq!(
        idp.get(&long, Some(&cookie)).await.status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn name_id_formats_follow_the_app_and_the_request() {
    let idp = idp(|app| {
        app.name_id_format = NameIdFormat::Persistent;
        app.sp_may_request_name_id_format = true;
    })
    .await;
    let certificate = idp.idp_certificate().await;
    let learning = idp
        .engines
        .saml
        .apps
        .create(
            idp.acme,
            app("Learning", SP_2, &[SP_2_ACS], SP_2_SLO),
            Timestamp::now(),
        )
        .await
        .unwrap();
    let nameid_of = |posted: &Posted| name_id(&verified(&posted.xml, &certificate));

    let (first, _) = idp.sign_in("/").await;
    let events_1 = nameid_of(
        &idp.get(&format!("/saml/idp/{}", idp.app_id), Some(&first))
            .await
            .posted(),
    );
    let (second, _) = idp.sign_in("/").await;
    let events_2 = nameid_of(
        &idp.get(&format!("/saml/idp/{}", idp.app_id), Some(&second))
            .await
            .posted(),
    );
    // Persistent: the same in every session, opaque, and another app gets another one.
    assert_eq!(events_1, events_2);
    assert!(!events_1.contains("jane"), "{events_1}");
    let learning_request = idp
        .get(&format!("/saml/idp/{}", learning.app_id), Some(&second))
        .await
        .posted();
    assert!(learning_request.xml.contains("nameid-format:emailAddress"));

    // A request may ask for another format the IdP offers.
    let transient = |id: &str| {
        authn_request(id).replace(
            "<samlp:NameIDPolicy AllowCreate=\"true\"/>",
            "<samlp:NameIDPolicy Format=\"urn:oasis:names:tc:SAML:2.0:nameid-format:transient\"/>",
        )
    };
    let query = redirect_query(&transient("_t1"), None, &idp.sp_key, false);
    let posted = idp
        .get(&format!("/saml/sso?{query}"), Some(&first))
        .await
        .posted();
    assert!(posted.xml.contains("nameid-format:transient"));
    let transient_1 = nameid_of(&posted);
    // The session already had a persistent NameID with this app: the transient one is new,
    // not the persistent value relabelled.
    assert_ne!(transient_1, events_1);
    let (third, _) = idp.sign_in("/").await;
    let learning_app = idp
        .engines
        .saml
        .apps
        .get(idp.acme, &learning.app_id)
        .await
        .unwrap();
    assert_eq!(learning_app.name, "Learning");
    let query = redirect_query(&transient("_t2"), None, &idp.sp_key, false);
    let transient_2 = nameid_of(
        &idp.get(&format!("/saml/sso?{query}"), Some(&third))
            .await
            .posted(),
    );
    assert_ne!(
        transient_1, transient_2,
        "transient NameIDs are new per session"
    );
    assert_ne!(transient_2, events_1);

    // Unspecified: the username, or the iMIS id when the app says so.
    let query = redirect_query(
        &authn_request("_u1").replace(
            "<samlp:NameIDPolicy AllowCreate=\"true\"/>",
            "<samlp:NameIDPolicy Format=\"urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress\"/>",
        ),
        None,
        &idp.sp_key,
        false,
    );
    let (fourth, _) = idp.sign_in("/").await;
    let email = nameid_of(
        &idp.get(&format!("/saml/sso?{query}"), Some(&fourth))
            .await
            .posted(),
    );
    assert_eq!(email, "jane@acme.test");
}

/// Review finding: the NameID remembered for (session, app) was reused with whatever format the
/// next request named, so the e-mail address went out labelled persistent and the opaque ID
/// labelled emailAddress. The value and its format now come from the same sign-in.
#[tokio::test]
async fn a_name_id_is_always_the_value_of_its_format() {
    const EMAIL: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";
    const PERSISTENT: &str = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent";
    let idp = idp(|app| {
        app.name_id_format = NameIdFormat::Persistent;
        app.sp_may_request_name_id_format = true;
    })
    .await;
    let certificate = idp.idp_certificate().await;
    let (cookie, _) = idp.sign_in("/").await;
    let asking = |id: &str, format: &str| {
        let xml = authn_request(id).replace(
            "<samlp:NameIDPolicy AllowCreate=\"true\"/>",
            &format!("<samlp:NameIDPolicy Format=\"{format}\"/>"),
        );
        redirect_query(&xml, None, &idp.sp_key, true)
    };
    let persistent = verified(
        &idp.get(&format!("/saml/idp/{}", idp.app_id), Some(&cookie))
            .await
            .posted()
            .xml,
        &certificate,
    );
    assert!(persistent.contains(PERSISTENT), "{persistent}");
    let opaque = name_id(&persistent);
    assert!(!opaque.contains('@'));

    let email = verified(
        &idp.get(&format!("/saml/sso?{}", asking("_e", EMAIL)), Some(&cookie))
            .await
            .posted()
            .xml,
        &certificate,
    );
    assert!(email.contains(EMAIL), "{email}");
    assert_eq!(name_id(&email), "jane@acme.test");

    let again = verified(
        &idp.get(
            &format!("/saml/sso?{}", asking("_p", PERSISTENT)),
            Some(&cookie),
        )
        .await
        .posted()
        .xml,
        &certificate,
    );
    assert!(again.contains(PERSISTENT), "{again}");
    assert_eq!(name_id(&again), opaque);
}

/// The app's format wins unless the admin lets the service provider choose.
#[tokio::test]
async fn a_format_the_app_does_not_offer_gets_invalid_name_id_policy() {
    let idp = idp(|app| app.name_id_format = NameIdFormat::Persistent).await;
    let (cookie, _) = idp.sign_in("/").await;
    let xml = authn_request("_fmt").replace(
        "<samlp:NameIDPolicy AllowCreate=\"true\"/>",
        "<samlp:NameIDPolicy Format=\"urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress\"/>",
    );
    let query = redirect_query(&xml, None, &idp.sp_key, true);
    let posted = idp
        .get(&format!("/saml/sso?{query}"), Some(&cookie))
        .await
        .posted();
    assert!(
        posted.xml.contains("status:InvalidNameIDPolicy"),
        "{}",
        posted.xml
    );
    assert!(!posted.xml.contains("<saml:Assertion"));
    assert!(!posted.xml.contains("jane@acme.test"));
}

/// Core §3.4.1.4: a request naming its subject is answered for that subject or not at all.
#[tokio::test]
async fn a_request_naming_another_member_is_not_answered_for_the_signed_in_one() {
    let idp = idp(|app| app.name_id_format = NameIdFormat::EmailAddress).await;
    let (cookie, _) = idp.sign_in("/").await;
    let naming = |id: &str, who: &str| {
        let xml = authn_request(id).replace(
            &format!("<saml:Issuer>{SP}</saml:Issuer>"),
            &format!(
                "<saml:Issuer>{SP}</saml:Issuer><saml:Subject><saml:NameID \
                 Format=\"urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress\">{who}\
                 </saml:NameID></saml:Subject>"
            ),
        );
        redirect_query(&xml, None, &idp.sp_key, true)
    };
    let posted = idp
        .get(
            &format!("/saml/sso?{}", naming("_bob", "bob@acme.test")),
            Some(&cookie),
        )
        .await
        .posted();
    assert!(posted.xml.contains("status:AuthnFailed"), "{}", posted.xml);
    assert!(!posted.xml.contains("<saml:Assertion"));
    let posted = idp
        .get(
            &format!("/saml/sso?{}", naming("_jane", "jane@acme.test")),
            Some(&cookie),
        )
        .await
        .posted();
    assert!(posted.xml.contains("<saml:Assertion"), "{}", posted.xml);
}

/// Bindings §3.5.5.2: a signed POST request must name its Destination.
#[tokio::test]
async fn a_signed_request_without_destination_is_refused() {
    let idp = idp(|_| {}).await;
    let xml = authn_request("_nodest").replace(&format!(" Destination=\"{IDP_SSO}\""), "");
    let signed = sign_enveloped(&xml, "_nodest", &idp.sp_key).unwrap();
    let reply = idp
        .post(
            "/saml/sso",
            form(&[("SAMLRequest", &STANDARD.encode(&signed))]),
            None,
            "https://events.example.org",
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
    assert!(reply.body.contains("no Destination"), "{}", reply.body);
}

/// Anyone can build an IdP-initiated link: its RelayState may only lead to the app's own site.
#[tokio::test]
async fn an_idp_initiated_link_cannot_relay_to_anywhere() {
    let idp = idp(|app| app.default_relay_state = "https://events.example.org/home".into()).await;
    let (cookie, _) = idp.sign_in("/").await;
    let link = |relay: &str| format!("/saml/idp/{}?RelayState={}", idp.app_id, urlencode(relay));
    for relay in [
        "https://evil.example.net/",
        "//evil.example.net/x",
        "javascript:alert(1)",
    ] {
        let reply = idp.get(&link(relay), Some(&cookie)).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{relay}: {}",
            reply.body
        );
        assert!(!reply.body.contains("SAMLResponse"), "{relay}");
    }
    for relay in [
        "/courses/42",
        "https://events.example.org/agenda",
        "https://events.example.org/home",
    ] {
        let posted = idp.get(&link(relay), Some(&cookie)).await.posted();
        assert_eq!(posted.relay_state.as_deref(), Some(relay));
    }
}

/// A cross-site GET with an unsigned LogoutRequest naming the member once signed them out.
/// From an app with a signing certificate only a signed request ends the session; from one
/// without, the request must also carry the session's SessionIndex.
#[tokio::test]
async fn unsigned_logout_requests_end_nothing() {
    let idp = idp(|_| {}).await;
    let certificate = idp.idp_certificate().await;
    let (cookie, events) = idp.sign_in_with(&authn_request("_u1"), None).await;
    let session_index = between(
        &verified(&events.xml, &certificate),
        "SessionIndex=\"",
        "\"",
    )
    .to_string();
    let address = LogoutAddress {
        issuer: SP,
        destination: IDP_SLO,
        now: Timestamp::now(),
    };
    let format = NameIdFormat::EmailAddress.uri();
    let status_of = |reply: &Reply| {
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
        decode_redirect(&query_param(&reply.location(), "SAMLResponse")).unwrap()
    };
    let signed_in = |body: String| body.contains("signed in");

    // Unsigned (even with the right SessionIndex), from an app with a certificate.
    let (request, _) =
        logout_request(&address, "jane@acme.test", format, &session_index, None).unwrap();
    let query = redirect_query(&request, None, &idp.sp_key, false);
    let reply = idp.get(&format!("/saml/slo?{query}"), Some(&cookie)).await;
    assert!(status_of(&reply).contains(":status:Requester"));
    assert!(signed_in(idp.get("/", Some(&cookie)).await.body));

    // An app without a certificate: the NameID alone ends nothing…
    let mut input = app("Learning", SP_2, &[SP_2_ACS], SP_2_SLO);
    input.sp_certificate = None;
    let learning = idp
        .engines
        .saml
        .apps
        .create(idp.acme, input, Timestamp::now())
        .await
        .unwrap();
    let learning_posted = idp
        .get(&format!("/saml/idp/{}", learning.app_id), Some(&cookie))
        .await
        .posted();
    let learning_index = between(
        &verified(&learning_posted.xml, &certificate),
        "SessionIndex=\"",
        "\"",
    )
    .to_string();
    let from_learning = LogoutAddress {
        issuer: SP_2,
        destination: IDP_SLO,
        now: Timestamp::now(),
    };
    let (request, _) = logout_request(&from_learning, "jane@acme.test", format, "", None).unwrap();
    let request = request.replace("<samlp:SessionIndex></samlp:SessionIndex>", "");
    let query = redirect_query(&request, None, &idp.sp_key, false);
    let reply = idp.get(&format!("/saml/slo?{query}"), Some(&cookie)).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    assert!(
        reply.location().starts_with(SP_2_SLO),
        "{}",
        reply.location()
    );
    let answer = decode_redirect(&query_param(&reply.location(), "SAMLResponse")).unwrap();
    assert!(answer.contains(":status:Requester"), "{answer}");
    assert!(signed_in(idp.get("/", Some(&cookie)).await.body));

    // …with the session's SessionIndex it does.
    let (request, _) = logout_request(
        &from_learning,
        "jane@acme.test",
        format,
        &learning_index,
        None,
    )
    .unwrap();
    let query = redirect_query(&request, None, &idp.sp_key, false);
    let reply = idp.get(&format!("/saml/slo?{query}"), Some(&cookie)).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    assert!(!signed_in(idp.get("/", Some(&cookie)).await.body));
}

/// A service provider whose metadata lists only a POST single logout service takes part in
/// logout: its LogoutRequest is posted from the browser, signed inside the document.
#[tokio::test]
async fn logout_reaches_a_service_provider_that_takes_post_only() {
    let idp = idp(|_| {}).await;
    let certificate = idp.idp_certificate().await;
    let mut input = app("Learning", SP_2, &[SP_2_ACS], SP_2_SLO);
    input.single_logout_binding = vestibule_saml::LogoutBinding::Post;
    let learning = idp
        .engines
        .saml
        .apps
        .create(idp.acme, input, Timestamp::now())
        .await
        .unwrap();
    let (cookie, _) = idp.sign_in("/").await;
    idp.get(&format!("/saml/idp/{}", learning.app_id), Some(&cookie))
        .await
        .posted();
    let reply = idp
        .post("/logout", String::new(), Some(&cookie), ORIGIN)
        .await;
    let reply = if reply.status == StatusCode::SEE_OTHER {
        idp.get(&reply.location(), Some(&cookie)).await
    } else {
        reply
    };
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let start = reply
        .body
        .find("<form method=\"post\" action=\"")
        .expect("a POST form")
        + "<form method=\"post\" action=\"".len();
    let action = unescape(&reply.body[start..start + reply.body[start..].find('"').unwrap()]);
    assert_eq!(action, SP_2_SLO);
    let marker = "name=\"SAMLRequest\" value=\"";
    let value_start = reply.body.find(marker).expect("SAMLRequest") + marker.len();
    let value =
        &reply.body[value_start..value_start + reply.body[value_start..].find('"').unwrap()];
    let xml = String::from_utf8(STANDARD.decode(unescape(value)).unwrap()).unwrap();
    let request = verified(&xml, &certificate);
    assert!(request.starts_with("<samlp:LogoutRequest"), "{request}");
    assert!(
        request.contains(&format!("Destination=\"{SP_2_SLO}\"")),
        "{request}"
    );
    assert!(reply.body.contains("name=\"RelayState\""));
}

#[tokio::test]
async fn sp_initiated_logout_ends_the_session_and_tells_the_other_service_providers() {
    let idp = idp(|_| {}).await;
    let learning = idp
        .engines
        .saml
        .apps
        .create(
            idp.acme,
            app("Learning", SP_2, &[SP_2_ACS], SP_2_SLO),
            Timestamp::now(),
        )
        .await
        .unwrap();
    let certificate = idp.idp_certificate().await;
    let (cookie, events) = idp.sign_in_with(&authn_request("_l1"), None).await;
    let learning_posted = idp
        .get(&format!("/saml/idp/{}", learning.app_id), Some(&cookie))
        .await
        .posted();
    assert_eq!(learning_posted.action, SP_2_ACS);
    let events_assertion = verified(&events.xml, &certificate);
    let session_index = between(&events_assertion, "SessionIndex=\"", "\"").to_string();

    // A LogoutRequest naming someone else leaves the session alone.
    let address = LogoutAddress {
        issuer: SP,
        destination: IDP_SLO,
        now: Timestamp::now(),
    };
    let format = NameIdFormat::EmailAddress.uri();
    let (wrong, _) =
        logout_request(&address, "john@acme.test", format, &session_index, None).unwrap();
    let query = signed_redirect_query("SAMLRequest", &wrong, Some("back"), &idp.sp_key).unwrap();
    let reply = idp.get(&format!("/saml/slo?{query}"), Some(&cookie)).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    let answer = decode_redirect(&query_param(&reply.location(), "SAMLResponse")).unwrap();
    assert!(answer.contains(":status:Requester"), "{answer}");
    assert!(idp.get("/", Some(&cookie)).await.body.contains("signed in"));

    // The right one: the session ends, Learning is told first (signed, Redirect binding)…
    let (request, request_id) =
        logout_request(&address, "jane@acme.test", format, &session_index, None).unwrap();
    let query = signed_redirect_query("SAMLRequest", &request, Some("back-to-events"), &idp.sp_key)
        .unwrap();
    let reply = idp.get(&format!("/saml/slo?{query}"), Some(&cookie)).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    assert!(reply.headers[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    let to_learning = reply.location();
    assert!(
        to_learning.starts_with(&format!("{SP_2_SLO}?SAMLRequest=")),
        "{to_learning}"
    );
    let (_, query) = to_learning.split_once('?').unwrap();
    RedirectQuery::parse(query)
        .verify("SAMLRequest", &certificate)
        .unwrap();
    let told = decode_redirect(&query_param(&to_learning, "SAMLRequest")).unwrap();
    assert!(
        told.contains(&format!("Destination=\"{SP_2_SLO}\"")),
        "{told}"
    );
    assert!(told.contains(&name_id(&verified(&learning_posted.xml, &certificate))));
    let told_id = between(&told, "ID=\"", "\"").to_string();
    let journey = query_param(&to_learning, "RelayState");
    assert!(idp.get("/", Some(&cookie)).await.body.contains("password"));

    // …Learning answers; then Events gets its LogoutResponse, signed, to its SLO URL.
    let learning_answer = logout_response(
        &LogoutAddress {
            issuer: SP_2,
            destination: IDP_SLO,
            now: Timestamp::now(),
        },
        &told_id,
        STATUS_SUCCESS,
        None,
    )
    .unwrap();
    let query = form(&[
        ("SAMLResponse", &STANDARD.encode(&learning_answer)),
        ("RelayState", &journey),
    ]);
    let reply = idp
        .post(
            "/saml/slo",
            query.clone(),
            None,
            "https://learning.example.org",
        )
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    let to_events = reply.location();
    assert!(
        to_events.starts_with(&format!("{SP_SLO}?SAMLResponse=")),
        "{to_events}"
    );
    let (_, query_string) = to_events.split_once('?').unwrap();
    RedirectQuery::parse(query_string)
        .verify("SAMLResponse", &certificate)
        .unwrap();
    assert_eq!(query_param(&to_events, "RelayState"), "back-to-events");
    let response = decode_redirect(&query_param(&to_events, "SAMLResponse")).unwrap();
    assert!(
        response.contains(&format!("InResponseTo=\"{request_id}\"")),
        "{response}"
    );
    assert!(response.contains(":status:Success"));

    // The journey cannot be replayed, nor the LogoutRequest.
    let again = idp
        .post("/saml/slo", query, None, "https://learning.example.org")
        .await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    let query = signed_redirect_query("SAMLRequest", &request, None, &idp.sp_key).unwrap();
    let replay = idp.get(&format!("/saml/slo?{query}"), None).await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn signing_out_on_the_idp_logs_out_of_every_service_provider() {
    let idp = idp(|_| {}).await;
    let (cookie, _) = idp.sign_in_with(&authn_request("_o1"), None).await;
    let reply = idp
        .post("/logout", String::new(), Some(&cookie), ORIGIN)
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    let to_events = reply.location();
    assert!(to_events.starts_with(&format!("{SP_SLO}?SAMLRequest=")));
    let told = decode_redirect(&query_param(&to_events, "SAMLRequest")).unwrap();
    let told_id = between(&told, "ID=\"", "\"").to_string();
    let answer = logout_response(
        &LogoutAddress {
            issuer: SP,
            destination: IDP_SLO,
            now: Timestamp::now(),
        },
        &told_id,
        STATUS_SUCCESS,
        None,
    )
    .unwrap();
    // The service provider answers with the Redirect binding, signed.
    let query = signed_redirect_query(
        "SAMLResponse",
        &answer,
        Some(&query_param(&to_events, "RelayState")),
        &idp.sp_key,
    )
    .unwrap();
    let done = idp.get(&format!("/saml/slo?{query}"), None).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(done.body.contains("You are signed out"));

    // A member with no SAML sessions just sees the signed-out page.
    let (plain, _) = idp.sign_in("/").await;
    let reply = idp
        .post("/logout", String::new(), Some(&plain), ORIGIN)
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.body.contains("You are signed out"));
}

#[tokio::test]
async fn metadata_publishes_the_entity_endpoints_and_certificate() {
    let idp = idp(|_| {}).await;
    let reply = idp.get("/saml/metadata", None).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.headers[header::CONTENT_TYPE],
        "application/samlmetadata+xml"
    );
    let xml = &reply.body;
    assert!(xml.contains(&format!("entityID=\"{IDP_ENTITY}\"")));
    assert!(xml.contains(&format!("Location=\"{IDP_SSO}\"")));
    assert!(xml.contains(&format!("Location=\"{IDP_SLO}\"")));
    let certificate = STANDARD.encode(idp.idp_certificate().await);
    assert!(xml.contains(&certificate));
    let parsed: samael::metadata::EntityDescriptor = xml.parse().unwrap();
    assert_eq!(parsed.entity_id.as_deref(), Some(IDP_ENTITY));
    assert!(ORIGIN.starts_with("http://"));
    // Service providers read it in place; the dashboard's Download asks for a file named
    // after the domain, and so is the certificate.
    assert!(reply.headers.get(header::CONTENT_DISPOSITION).is_none());
    let download = idp.get("/saml/metadata?download", None).await;
    assert_eq!(download.body, reply.body);
    assert_eq!(
        download.headers[header::CONTENT_DISPOSITION],
        "attachment; filename=\"sso.acme.localhost-idp-metadata.xml\""
    );
    let certificate = idp.get("/saml/certificate.pem", None).await;
    assert_eq!(
        certificate.headers[header::CONTENT_DISPOSITION],
        "attachment; filename=\"sso.acme.localhost-idp-signing-certificate.pem\""
    );
}

fn query_param(url: &str, name: &str) -> String {
    let query = url.split_once('?').map_or(url, |(_, q)| q);
    RedirectQuery::parse(query).get(name).unwrap_or_default()
}

#[tokio::test]
async fn the_flight_recorder_shows_requests_signatures_and_responses_with_contents_redacted() {
    use vestibule_recorder::{AppRef, Kind, Reveal};
    let idp = idp(|app| app.require_signed_requests = true).await;
    let request = authn_request("_recorded-1");
    let (_, posted) = idp.sign_in_with(&request, Some("back-to-7")).await;
    assert_eq!(posted.action, ACS);
    // Signed by someone else: refused, and kept under the app its issuer names.
    let other = idp
        .engines
        .saml
        .keys
        .signing_key(idp.acme, "acme", Timestamp::now())
        .await
        .unwrap();
    let query = redirect_query(&authn_request("_recorded-2"), None, &other, true);
    let refused = idp.get(&format!("/saml/sso?{query}"), None).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    // From an issuer that is no app of the tenant's: kept nowhere.
    let stranger = authn_request("_recorded-3").replace(SP, "https://stranger.example/sp");
    let query = redirect_query(&stranger, None, &idp.sp_key, true);
    let unknown = idp.get(&format!("/saml/sso?{query}"), None).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);

    let recorder = &idp.engines.recorder;
    let app = AppRef::saml(&idp.app_id);
    let now = Timestamp::now();
    let recent = recorder.recent(idp.acme, &app, now).await.unwrap();
    let seen: Vec<(Option<Kind>, bool)> = recent.iter().map(|e| (e.kind, e.answered)).collect();
    assert_eq!(
        seen,
        [
            (Some(Kind::AuthnRequest), false),
            (Some(Kind::Response), true),
            (Some(Kind::AuthnRequest), true),
        ]
    );
    assert!(
        recent[0].reason.contains("signature"),
        "{}",
        recent[0].reason
    );
    assert_eq!(
        recent[2].signature,
        "Signed (Redirect binding query signature): verified with the app's certificate"
    );
    assert_eq!(recent[1].member, "jane");
    assert!(
        recent[1]
            .signature
            .starts_with("Signed by this IdP's current key: the assertion"),
        "{}",
        recent[1].signature
    );
    let response = recorder.open(idp.acme, &app, recent[1].id, Reveal::Full, now);
    let response = response.await.unwrap().unwrap();
    assert!(response
        .redacted
        .text
        .contains("InResponseTo=\"_recorded-1\""));
    assert!(
        !response.redacted.text.contains("jane@acme.test"),
        "{}",
        response.redacted.text
    );
    assert!(!response.redacted.text.contains(">Jane<"));
    // In full: the assertion's contents, but not its signature, so it cannot be replayed.
    let full = response.full.unwrap().text;
    assert!(full.contains("jane@acme.test"), "{full}");
    let signature = between(&posted.xml, "<ds:SignatureValue>", "</ds:SignatureValue>");
    assert!(signature.len() > 100);
    assert!(!full.contains(signature), "{full}");
    assert!(full.contains("<ds:SignatureValue>[not kept]</ds:SignatureValue>"));
    let received = recorder.open(idp.acme, &app, recent[2].id, Reveal::Redacted, now);
    let received = received.await.unwrap().unwrap();
    assert!(
        received.redacted.text.contains("ID=\"_recorded-1\""),
        "{}",
        received.redacted.text
    );
    assert_eq!(received.full, None);
}

#[tokio::test]
async fn the_test_service_provider_checks_the_apps_response_which_never_reaches_the_app() {
    let idp = idp(|_| {}).await;
    let ticket = |app: &str, until: i64| {
        let payload = format!("{}:saml:{app}", idp.acme.0);
        let expires = Timestamp::now().0 + until;
        idp.engines
            .secret
            .seal_expiring("test-sign-in", &payload, expires)
            .unwrap()
    };
    // A link for another app, or an expired one, is refused.
    let other = idp
        .get(
            &format!(
                "/test-sign-in/saml/{}?ticket={}",
                idp.app_id,
                ticket("other", 600)
            ),
            None,
        )
        .await;
    assert_eq!(other.status, StatusCode::FORBIDDEN);
    let late = idp
        .get(
            &format!(
                "/test-sign-in/saml/{}?ticket={}",
                idp.app_id,
                ticket(&idp.app_id, -1)
            ),
            None,
        )
        .await;
    assert_eq!(late.status, StatusCode::FORBIDDEN);

    // Through the hosted sign-in, as the member the admin signs in as.
    let start = format!(
        "/test-sign-in/saml/{}?ticket={}",
        idp.app_id,
        ticket(&idp.app_id, 600)
    );
    let first = idp.get(&start, None).await;
    assert_eq!(first.status, StatusCode::SEE_OTHER, "{}", first.body);
    let return_to = unescape_query(first.location().strip_prefix("/login?return_to=").unwrap());
    let (cookie, next) = idp.sign_in(&return_to).await;
    let posted = idp.get(&next, Some(&cookie)).await.posted();
    // Addressed to the test service provider, never to the app's assertion consumer service.
    let test_acs = format!("{ORIGIN}/test-sign-in/saml/acs");
    assert_eq!(posted.action, test_acs);
    assert!(posted.xml.contains(&format!("Destination=\"{test_acs}\"")));
    assert!(!posted.xml.contains(ACS), "{}", posted.xml);
    assert!(posted
        .xml
        .contains(&format!("<saml:Audience>{SP}</saml:Audience>")));

    let body = form(&[
        ("SAMLResponse", &STANDARD.encode(&posted.xml)),
        ("RelayState", posted.relay_state.as_deref().unwrap()),
    ]);
    let report = idp
        .post("/test-sign-in/saml/acs", body, Some(&cookie), ORIGIN)
        .await;
    assert_eq!(report.status, StatusCode::OK, "{}", report.body);
    assert!(
        report.body.contains("Every check passed."),
        "{}",
        report.body
    );
    assert!(!report.body.contains("Failed"), "{}", report.body);
    assert!(report.body.contains("jane@acme.test"));
    assert!(report.body.contains("firstName = Jane"), "{}", report.body);

    // A response changed after signing fails its signature check.
    let forged = posted.xml.replace("jane@acme.test", "root@acme.test");
    let body = form(&[
        ("SAMLResponse", &STANDARD.encode(&forged)),
        ("RelayState", posted.relay_state.as_deref().unwrap()),
    ]);
    let report = idp.post("/test-sign-in/saml/acs", body, None, ORIGIN).await;
    assert!(
        report.body.contains("Some checks failed"),
        "{}",
        report.body
    );
    assert!(!report.body.contains("root@acme.test"), "{}", report.body);
}

#[tokio::test]
async fn a_test_sign_in_of_an_encrypting_app_says_only_the_service_provider_can_read_it() {
    // The service provider's own certificate is also the one assertions are encrypted to.
    let idp = idp(|app| {
        app.encrypt_assertions = true;
        app.sp_encryption_certificate = app.sp_certificate.clone();
    })
    .await;
    let payload = format!("{}:saml:{}", idp.acme.0, idp.app_id);
    let ticket = idp
        .engines
        .secret
        .seal_expiring("test-sign-in", &payload, Timestamp::now().0 + 600)
        .unwrap();
    let (cookie, _) = idp.sign_in("/").await;
    let start = format!("/test-sign-in/saml/{}?ticket={ticket}", idp.app_id);
    let posted = idp.get(&start, Some(&cookie)).await.posted();
    assert!(posted.xml.contains("EncryptedAssertion"), "{}", posted.xml);
    assert!(!posted.xml.contains("jane@acme.test"));
    let body = form(&[
        ("SAMLResponse", &STANDARD.encode(&posted.xml)),
        ("RelayState", posted.relay_state.as_deref().unwrap()),
    ]);
    let report = idp
        .post("/test-sign-in/saml/acs", body, Some(&cookie), ORIGIN)
        .await;
    assert!(
        report.body.contains("Every check passed."),
        "{}",
        report.body
    );
    assert!(
        report.body.contains("only the service provider can"),
        "{}",
        report.body
    );
    assert!(report.body.contains("(encrypted or none)"));
}

/// A subscribed app's metadata, re-read when due through the outbound guard (here allowed to
/// reach this machine, like run-local): certificates the admin let roll over are applied and
/// audited as the automatic refresh, a new assertion consumer service waits for the admin, an
/// address that stops answering is a failure on the app, and nothing is read before it is due.
#[tokio::test]
async fn subscribed_metadata_is_reread_when_due_and_applies_only_what_the_admin_allowed() {
    use std::sync::{Arc, Mutex};
    use vestibule_server::metadata_refresh::{refresh_due, ACTOR};

    let db = sqlite().await;
    let store = db.store().clone();
    let now = Timestamp::now();
    let acme = store
        .create_tenant(&"acme".parse().unwrap(), "Acme", now)
        .await
        .unwrap()
        .id;
    let engines = support::engines(&support::config(&[]), store.clone());

    // The service provider publishes its metadata on this machine.
    let xml = include_str!("../../crates/saml/tests/fixtures/pysaml2-sp-metadata.xml");
    let published = Arc::new(Mutex::new((StatusCode::OK, xml.to_string())));
    let served = published.clone();
    let sp = Router::new().route(
        "/metadata",
        axum::routing::get(move || {
            let (status, body) = served.lock().unwrap().clone();
            async move {
                (
                    status,
                    [(header::CONTENT_TYPE, "application/samlmetadata+xml")],
                    body,
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/metadata", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, sp).await.unwrap() });

    // Registered by hand without its certificates; subscribed with rollovers allowed.
    let parsed = vestibule_saml::parse_sp_metadata(xml).unwrap();
    let input = SamlAppInput {
        name: "Learning".into(),
        entity_id: parsed.entity_id.clone(),
        assertion_consumers: parsed.assertion_consumers.clone(),
        single_logout: parsed.single_logout.clone(),
        single_logout_binding: parsed.single_logout_binding,
        ..SamlAppInput::default()
    };
    let saml = &engines.saml;
    let id = saml.apps.create(acme, input, now).await.unwrap().app_id;
    engines.settings.check_document_address(&url).unwrap();
    saml.metadata
        .subscribe(acme, &id, &url, true, now)
        .await
        .unwrap();
    let refresh = |at| refresh_due(saml, &engines.settings, &engines.audit, at);
    let automatic_edits = || async {
        let filter = vestibule_audit::filter("saml_app.update", ACTOR);
        engines.audit.search(acme, &filter).await.unwrap().len()
    };

    // The first read applies the certificates (allowed), in the audit log as the refresh.
    assert_eq!(refresh(now).await.unwrap(), 1);
    let app = saml.apps.get(acme, &id).await.unwrap();
    assert!(app.settings.sp_certificate.is_some());
    assert!(app.settings.sp_encryption_certificate.is_some());
    assert_eq!(automatic_edits().await, 1);
    let subscription = saml.metadata.get(acme, &id).await.unwrap().unwrap();
    assert_eq!(
        (subscription.failure, subscription.waiting.len()),
        (None, 0)
    );

    // Not due again for a day.
    assert_eq!(
        refresh(now + vestibule_domain::Seconds::hours(23))
            .await
            .unwrap(),
        0
    );

    // A new assertion consumer service waits for the admin; nothing is applied.
    let day = vestibule_saml::REFRESH_EVERY;
    published.lock().unwrap().1 = xml.replace(
        "</ns0:SPSSODescriptor>",
        "<ns0:AssertionConsumerService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" \
         Location=\"http://127.0.0.1:43257/acs2\" index=\"2\"/></ns0:SPSSODescriptor>",
    );
    assert_eq!(refresh(now + day).await.unwrap(), 1);
    let subscription = saml.metadata.get(acme, &id).await.unwrap().unwrap();
    assert_eq!(subscription.waiting.len(), 1);
    assert_eq!(subscription.waiting[0].field, "Assertion consumer services");
    let app = saml.apps.get(acme, &id).await.unwrap();
    assert_eq!(app.settings.assertion_consumers.len(), 1);
    assert_eq!(automatic_edits().await, 1);

    // The address stops answering: a failure on the app, read again the next day.
    *published.lock().unwrap() = (StatusCode::NOT_FOUND, String::new());
    assert_eq!(refresh(now + day + day).await.unwrap(), 1);
    let subscription = saml.metadata.get(acme, &id).await.unwrap().unwrap();
    let failure = subscription.failure.unwrap();
    assert!(
        failure.starts_with("The metadata could not be fetched"),
        "{failure}"
    );
    assert_eq!(subscription.next_check_at, now + day + day + day);
}

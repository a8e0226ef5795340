//! A protocol message as the recorder keeps it: the redacted copy anyone reading the tenant
//! sees, and the full copy its admins may open for a day. Credentials are in neither.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use quick_xml::events::{BytesText, Event};
use quick_xml::{Reader, Writer};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// What stands in for a value the redacted copy does not show.
pub const REDACTED: &str = "[redacted]";

/// What stands in for a credential, in both copies: it is never kept.
pub const NOT_KEPT: &str = "[not kept]";

/// Past this many characters a message is cut (the member site reads at most 64 KiB).
const MAX_CHARS: usize = 64 * 1024;

/// OAuth parameters and answers that are credentials: kept in neither copy.
const CREDENTIALS: [&str; 8] = [
    "client_secret",
    "client_assertion",
    "password",
    "code",
    "code_verifier",
    "access_token",
    "refresh_token",
    "token",
];

/// Parameters that carry an ID token: the full copy shows its decoded header and claims.
const ID_TOKENS: [&str; 2] = ["id_token", "id_token_hint"];

/// SAML elements whose text is the assertion's contents (or a signature's bytes): redacted.
const REDACTED_ELEMENTS: [&[u8]; 7] = [
    b"NameID",
    b"AttributeValue",
    b"SessionIndex",
    b"SignatureValue",
    b"DigestValue",
    b"X509Certificate",
    b"CipherValue",
];

/// A message shown: its text and how to read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shown {
    /// `json`, `xml` or `text`.
    pub format: String,
    pub text: String,
}

impl Shown {
    fn new(format: &str, text: String) -> Self {
        Self {
            format: format.to_string(),
            text: cut(text),
        }
    }

    pub(crate) fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    pub(crate) fn from_json(stored: &str) -> Self {
        serde_json::from_str(stored).unwrap_or_else(|_| Shown::new("text", stored.to_string()))
    }
}

fn cut(text: String) -> String {
    match text.char_indices().nth(MAX_CHARS) {
        Some((at, _)) => {
            let rest = text[at..].chars().count();
            format!("{}\n[… {rest} more characters not kept]", &text[..at])
        }
        None => text,
    }
}

/// A message in both copies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    redacted: Shown,
    full: Shown,
}

impl Message {
    pub(crate) fn into_parts(self) -> (Shown, Shown) {
        (self.redacted, self.full)
    }

    /// An OAuth / OpenID Connect exchange: the request's parameters and the answer (the
    /// parameters sent to the redirect URI, or the JSON the endpoint returned).
    pub fn oauth(request: &[(String, String)], answer: Option<Value>) -> Self {
        let exchange = json!({
            "request": pairs_json(request),
            "answer": answer.unwrap_or(Value::Null),
        });
        let text = |value: &Value| serde_json::to_string_pretty(value).unwrap_or_default();
        Self {
            redacted: Shown::new("json", text(&redacted_json(&exchange, Copy::Redacted))),
            full: Shown::new("json", text(&redacted_json(&exchange, Copy::Full))),
        }
    }

    /// A SAML protocol message (decoded XML). The full copy leaves out the signature values:
    /// with them a signed response would be a bearer credential a reader could replay to the
    /// service provider; without them it is everything the message says.
    pub fn saml(xml: &str) -> Self {
        let redacted = match replaced_xml(xml, &REDACTED_ELEMENTS, REDACTED) {
            Ok(redacted) => Shown::new("xml", redacted),
            Err(problem) => Shown::new(
                "text",
                format!("[the message is not readable XML ({problem})]"),
            ),
        };
        let full = replaced_xml(xml, &[b"SignatureValue"], NOT_KEPT)
            .unwrap_or_else(|problem| format!("[the message is not readable XML ({problem})]"));
        Self {
            redacted,
            full: Shown::new("xml", full),
        }
    }

    /// Words only (a message that never arrived whole).
    pub fn text(text: &str) -> Self {
        Self {
            redacted: Shown::new("text", text.to_string()),
            full: Shown::new("text", text.to_string()),
        }
    }
}

/// Parameters as a JSON object; a parameter given more than once becomes a list, so the
/// recorder shows what arrived.
pub fn pairs_json<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> Value {
    let mut object = Map::new();
    for (key, value) in pairs {
        let value = Value::String(value.as_ref().to_string());
        match object.get_mut(key.as_ref()) {
            Some(Value::Array(values)) => values.push(value),
            Some(first) => *first = Value::Array(vec![first.clone(), value]),
            None => {
                object.insert(key.as_ref().to_string(), value);
            }
        }
    }
    Value::Object(object)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Copy {
    Redacted,
    Full,
}

fn redacted_json(value: &Value, copy: Copy) -> Value {
    match value {
        Value::Object(object) => Value::Object(
            object
                .iter()
                .map(|(key, value)| (key.clone(), redacted_field(key, value, copy)))
                .collect(),
        ),
        Value::Array(values) => Value::Array(
            values
                .iter()
                .map(|value| redacted_json(value, copy))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn redacted_field(key: &str, value: &Value, copy: Copy) -> Value {
    let each = |one: &dyn Fn(&Value) -> Value| match value {
        Value::Array(values) => Value::Array(values.iter().map(one).collect()),
        value => one(value),
    };
    if CREDENTIALS.contains(&key) {
        let stand_in = match copy {
            Copy::Redacted => REDACTED,
            Copy::Full => NOT_KEPT,
        };
        return each(&|_| Value::String(stand_in.to_string()));
    }
    if ID_TOKENS.contains(&key) {
        return match copy {
            Copy::Redacted => each(&|_| Value::String(REDACTED.to_string())),
            Copy::Full => each(&|token| decoded_jwt(token.as_str().unwrap_or_default())),
        };
    }
    redacted_json(value, copy)
}

/// A JWT's header and claims, decoded (its signature is left out: it is the token's proof,
/// not its contents).
fn decoded_jwt(token: &str) -> Value {
    let part = |encoded: &str| -> Option<Value> {
        let bytes = URL_SAFE_NO_PAD.decode(encoded).ok()?;
        serde_json::from_slice(&bytes).ok()
    };
    let mut parts = token.split('.');
    match (parts.next().and_then(part), parts.next().and_then(part)) {
        (Some(header), Some(claims)) => json!({ "header": header, "claims": claims }),
        _ => Value::String("[not a readable JWT]".to_string()),
    }
}

/// The `sub` of the ID token in an answer, and how it is signed in words ("ID token signed by
/// this provider: RS256, key k1"); `None`s when the answer carries no readable ID token.
pub fn id_token_facts(answer: &Value) -> (Option<String>, Option<String>) {
    let Some(token) = answer.get("id_token").and_then(Value::as_str) else {
        return (None, None);
    };
    let decoded = decoded_jwt(token);
    let text = |value: &Value| value.as_str().map(str::to_string);
    let subject = text(&decoded["claims"]["sub"]);
    let signature = text(&decoded["header"]["alg"]).map(|alg| {
        let key = text(&decoded["header"]["kid"]).unwrap_or_default();
        format!("ID token signed by this provider: {alg}, key {key}")
    });
    (subject, signature)
}

/// `xml` with the text of `elements` replaced by `stand_in`. With [`REDACTED_ELEMENTS`]:
/// element and attribute names, issuers, audiences, times and addresses stay, which is what an
/// integrator compares.
fn replaced_xml(xml: &str, elements: &[&[u8]], stand_in: &str) -> Result<String, String> {
    let mut reader = Reader::from_str(xml);
    let mut writer = Writer::new(Vec::new());
    // Depth inside a redacted element (0: not inside one), and whether its stand-in is written.
    let (mut inside, mut replaced) = (0usize, false);
    loop {
        let event = reader.read_event().map_err(|error| error.to_string())?;
        match &event {
            Event::Eof => break,
            Event::Start(_) if inside > 0 => inside += 1,
            Event::Start(start) if elements.contains(&start.local_name().as_ref()) => {
                inside = 1;
                replaced = false;
            }
            Event::End(_) if inside > 1 => {
                inside -= 1;
                continue;
            }
            Event::End(_) if inside == 1 => inside = 0,
            Event::Text(_) | Event::CData(_) | Event::GeneralRef(_) | Event::Empty(_)
                if inside > 0 =>
            {
                if !replaced {
                    replaced = true;
                    write(&mut writer, Event::Text(BytesText::new(stand_in)))?;
                }
                continue;
            }
            _ => {}
        }
        if inside > 1 {
            continue;
        }
        write(&mut writer, event)?;
    }
    String::from_utf8(writer.into_inner()).map_err(|error| error.to_string())
}

fn write(writer: &mut Writer<Vec<u8>>, event: Event<'_>) -> Result<(), String> {
    writer.write_event(event).map_err(|error| error.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn credentials_are_in_neither_copy_and_id_tokens_only_in_the_full_one() {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","kid":"k1"}"#);
        let claims = URL_SAFE_NO_PAD.encode(br#"{"sub":"imis:42","aud":"events"}"#);
        let id_token = format!("{header}.{claims}.c2lnbmF0dXJl");
        let request = params(&[
            ("grant_type", "authorization_code"),
            ("code", "the-code-value"),
            ("client_secret", "the-client-secret"),
            ("code_verifier", "the-verifier"),
        ]);
        let answer = json!({
            "access_token": "the-access-token",
            "refresh_token": "the-refresh-token",
            "id_token": id_token,
            "token_type": "Bearer",
            "expires_in": 300,
        });
        let (redacted, full) = Message::oauth(&request, Some(answer)).into_parts();
        for secret in [
            "the-code-value",
            "the-client-secret",
            "the-verifier",
            "the-access-token",
            "the-refresh-token",
            "c2lnbmF0dXJl",
        ] {
            assert!(
                !redacted.text.contains(secret),
                "{secret} in {}",
                redacted.text
            );
            assert!(!full.text.contains(secret), "{secret} in {}", full.text);
        }
        assert!(!redacted.text.contains("imis:42"));
        assert!(redacted.text.contains("authorization_code"));
        assert!(redacted.text.contains("Bearer"));
        let full: Value = serde_json::from_str(&full.text).unwrap();
        assert_eq!(full["answer"]["id_token"]["claims"]["sub"], "imis:42");
        assert_eq!(full["answer"]["id_token"]["header"]["kid"], "k1");
        assert_eq!(full["request"]["code"], NOT_KEPT);
    }

    #[test]
    fn a_repeated_parameter_is_shown_as_everything_that_arrived() {
        let request = params(&[
            ("redirect_uri", "https://a/cb"),
            ("redirect_uri", "https://b/cb"),
        ]);
        assert_eq!(
            pairs_json(&request),
            json!({ "redirect_uri": ["https://a/cb", "https://b/cb"] })
        );
        let repeated_code = params(&[("code", "one"), ("code", "two")]);
        let (redacted, full) = Message::oauth(&repeated_code, None).into_parts();
        assert!(!redacted.text.contains("one") && !full.text.contains("two"));
    }

    #[test]
    fn assertion_contents_and_signature_bytes_are_redacted_and_the_shape_stays() {
        let xml = r##"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" Destination="https://sp.example/acs"><saml:Issuer>https://sso.acme.test/saml/metadata</saml:Issuer><ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:Reference URI="#a1"><ds:DigestValue>ZGlnZXN0</ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue>c2lnbmF0dXJl</ds:SignatureValue></ds:Signature><saml:Assertion ID="a1"><saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">jo&amp;co@acme.test</saml:NameID></saml:Subject><saml:AttributeStatement><saml:Attribute Name="email"><saml:AttributeValue><![CDATA[jo@acme.test]]></saml:AttributeValue></saml:Attribute><saml:Attribute Name="groups"><saml:AttributeValue/></saml:Attribute></saml:AttributeStatement></saml:Assertion></samlp:Response>"##;
        let (redacted, full) = Message::saml(xml).into_parts();
        for hidden in ["ZGlnZXN0", "c2lnbmF0dXJl", "jo&amp;co", "jo@acme.test"] {
            assert!(
                !redacted.text.contains(hidden),
                "{hidden} in {}",
                redacted.text
            );
        }
        for kept in [
            "https://sso.acme.test/saml/metadata",
            "Destination=\"https://sp.example/acs\"",
            "Name=\"email\"",
            "nameid-format:emailAddress",
            "<saml:NameID Format=",
        ] {
            assert!(
                redacted.text.contains(kept),
                "{kept} missing: {}",
                redacted.text
            );
        }
        assert_eq!(
            redacted.text.matches(REDACTED).count(),
            4,
            "{}",
            redacted.text
        );
        // The full copy has every value but the signature's: it cannot be replayed.
        let unsigned = "[not kept]</ds:SignatureValue>";
        assert_eq!(
            full.text,
            xml.replace("c2lnbmF0dXJl</ds:SignatureValue>", unsigned)
        );
    }

    #[test]
    fn unreadable_xml_is_not_shown_redacted_and_long_text_is_cut() {
        let (redacted, full) = Message::saml("<a><NameID>secret</b>").into_parts();
        assert!(!redacted.text.contains("secret"), "{}", redacted.text);
        assert!(!full.text.contains("secret"), "{}", full.text);
        let long = "x".repeat(MAX_CHARS + 10);
        let (shown, _) = Message::text(&long).into_parts();
        assert!(shown.text.ends_with("[… 10 more characters not kept]"));
    }
}

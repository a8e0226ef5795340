//! What goes into an ID token and the userinfo answer (OpenID Connect Core §2, §3.1.3.6, §5.3).

use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::digest;
use serde_json::{Map, Value};
use vestibule_domain::Timestamp;

use crate::{Client, SigningAlgorithm};

/// The member a token is about: the public subject identifier and the profile properties the
/// client application's claim mapping reads.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Subject {
    pub sub: String,
    pub attributes: BTreeMap<String, String>,
}

/// The claims the application's mapping yields for this member, when the `profile` scope was
/// granted. Dotted claim names nest (`address.country` → `{"address": {"country": …}}`); empty
/// properties are left out rather than sent as empty strings.
pub fn profile_claims(client: &Client, subject: &Subject, scopes: &[String]) -> Map<String, Value> {
    let mut claims = Map::new();
    if !scopes.iter().any(|s| s == "profile") {
        return claims;
    }
    for mapping in &client.settings.claims {
        let Some(value) = subject
            .attributes
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(&mapping.property))
            .map(|(_, value)| value)
            .filter(|value| !value.is_empty())
        else {
            continue;
        };
        let path: Vec<&str> = mapping.claim.split('.').collect();
        insert_path(&mut claims, &path, Value::String(value.clone()));
    }
    claims
}

/// Puts `value` at a dotted path, making the objects on the way. A plain claim already holding
/// a name on the way gives way to the object: nested mappings win.
fn insert_path(object: &mut Map<String, Value>, path: &[&str], value: Value) {
    match path {
        [] => {}
        [leaf] => {
            object.insert((*leaf).to_string(), value);
        }
        [head, rest @ ..] => {
            let entry = object
                .entry((*head).to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            if let Value::Object(next) = entry {
                insert_path(next, rest, value);
            }
        }
    }
}

/// `at_hash`: the left half of the hash of the access token, with the hash of the ID token's
/// signing algorithm (OpenID Connect Core §3.2.2.9).
pub fn at_hash(algorithm: SigningAlgorithm, access_token: &str) -> String {
    let hash = match algorithm {
        SigningAlgorithm::RS256 => digest::digest(&digest::SHA256, access_token.as_bytes()),
        SigningAlgorithm::RS512 | SigningAlgorithm::HS512 => {
            digest::digest(&digest::SHA512, access_token.as_bytes())
        }
    };
    let bytes = hash.as_ref();
    URL_SAFE_NO_PAD.encode(&bytes[..bytes.len() / 2])
}

/// Everything an ID token says, before signing.
pub struct IdTokenContent<'a> {
    pub issuer: &'a str,
    pub client: &'a Client,
    pub subject: &'a Subject,
    pub scopes: &'a [String],
    pub auth_time: Timestamp,
    pub nonce: Option<&'a str>,
    /// Present when an access token is issued alongside at the authorization endpoint
    /// (`token id_token`), where `at_hash` is required.
    pub access_token: Option<&'a str>,
    pub now: Timestamp,
}

impl IdTokenContent<'_> {
    pub fn claims(&self) -> Value {
        let mut claims = profile_claims(self.client, self.subject, self.scopes);
        let protocol = [
            ("iss", Value::from(self.issuer)),
            ("sub", Value::from(self.subject.sub.as_str())),
            ("aud", Value::from(self.client.client_id.as_str())),
            ("iat", Value::from(self.now.0)),
            (
                "exp",
                Value::from(self.now.0 + self.client.settings.id_token_seconds),
            ),
            ("auth_time", Value::from(self.auth_time.0)),
        ];
        // Protocol claims are set last: a claim mapping can never replace them.
        for (name, value) in protocol {
            claims.insert(name.to_string(), value);
        }
        if let Some(nonce) = self.nonce {
            claims.insert("nonce".to_string(), Value::from(nonce));
        }
        if let Some(token) = self.access_token {
            claims.insert(
                "at_hash".to_string(),
                Value::from(at_hash(self.client.settings.algorithm, token)),
            );
        }
        Value::Object(claims)
    }
}

/// The claims of the ID token an application would receive for this member now, unsigned:
/// the dashboard's preview of a claim mapping. Both scopes are granted, as they are when an
/// application asks for `openid profile`; there is no nonce or access token to bind.
pub fn preview_id_token(issuer: &str, client: &Client, subject: &Subject, now: Timestamp) -> Value {
    let scopes = ["openid".to_string(), "profile".to_string()];
    IdTokenContent {
        issuer,
        client,
        subject,
        scopes: &scopes,
        auth_time: now,
        nonce: None,
        access_token: None,
        now,
    }
    .claims()
}

/// The userinfo answer: `sub` and the same mapped claims as the ID token.
pub fn userinfo(client: &Client, subject: &Subject, scopes: &[String]) -> Value {
    let mut claims = profile_claims(client, subject, scopes);
    claims.insert("sub".to_string(), Value::from(subject.sub.as_str()));
    Value::Object(claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ClaimMapping, ClientSettings};

    fn client(claims: &[(&str, &str)], algorithm: SigningAlgorithm) -> Client {
        let settings = ClientSettings {
            algorithm,
            id_token_seconds: 600,
            access_token_seconds: 600,
            consent_grace_days: 0,
            claims: claims
                .iter()
                .map(|(claim, property)| ClaimMapping {
                    claim: claim.to_string(),
                    property: property.to_string(),
                })
                .collect(),
            ..ClientSettings::for_tests()
        };
        Client::for_tests("events", settings)
    }

    fn jane() -> Subject {
        Subject {
            sub: "imis:23201".into(),
            attributes: BTreeMap::from([
                ("Email".to_string(), "jane@example.org".to_string()),
                ("FirstName".to_string(), "Jane".to_string()),
                ("Country".to_string(), "CA".to_string()),
                ("City".to_string(), "Ottawa".to_string()),
                ("Company".to_string(), String::new()),
            ]),
        }
    }

    fn scopes(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn mapped_claims_nest_skip_empty_values_and_need_the_profile_scope() {
        let events = client(
            &[
                ("email", "email"),
                ("given_name", "FirstName"),
                ("address.country", "Country"),
                ("address.locality", "City"),
                ("org", "Company"),
                ("missing", "NoSuchProperty"),
            ],
            SigningAlgorithm::RS256,
        );
        let claims = profile_claims(&events, &jane(), &scopes(&["openid", "profile"]));
        assert_eq!(
            Value::Object(claims),
            serde_json::json!({
                "email": "jane@example.org",
                "given_name": "Jane",
                "address": { "country": "CA", "locality": "Ottawa" },
            })
        );
        assert!(profile_claims(&events, &jane(), &scopes(&["openid"])).is_empty());
        let info = userinfo(&events, &jane(), &scopes(&["openid"]));
        assert_eq!(info, serde_json::json!({ "sub": "imis:23201" }));
    }

    #[test]
    fn the_preview_shows_the_mapped_profile_without_nonce_or_at_hash() {
        let client = client(&[("address.city", "City")], SigningAlgorithm::RS256);
        let preview = preview_id_token("https://sso.acme.test", &client, &jane(), Timestamp(1000));
        assert_eq!(preview["iss"], "https://sso.acme.test");
        assert_eq!(preview["aud"], "events");
        assert_eq!(preview["exp"], 1600);
        assert_eq!(preview["address"]["city"], "Ottawa");
        assert!(preview.get("nonce").is_none() && preview.get("at_hash").is_none());
    }

    #[test]
    fn id_tokens_carry_the_protocol_claims_which_mapping_cannot_replace() {
        let events = client(&[("iss_copy", "Email")], SigningAlgorithm::RS256);
        let content = IdTokenContent {
            issuer: "https://sso.acme.org",
            client: &events,
            subject: &jane(),
            scopes: &scopes(&["openid", "profile"]),
            auth_time: Timestamp(1_000),
            nonce: Some("n-1"),
            access_token: Some("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"),
            now: Timestamp(2_000),
        };
        let claims = content.claims();
        assert_eq!(claims["iss"], "https://sso.acme.org");
        assert_eq!(claims["sub"], "imis:23201");
        assert_eq!(claims["aud"], "events");
        assert_eq!(claims["iat"], 2_000);
        assert_eq!(claims["exp"], 2_600);
        assert_eq!(claims["auth_time"], 1_000);
        assert_eq!(claims["nonce"], "n-1");
        assert_eq!(claims["iss_copy"], "jane@example.org");
        // OpenID Connect Core §A.3's example: the access token above hashes to this at_hash.
        assert_eq!(claims["at_hash"], "77QmUPtjPfzWtF2AnpK9RQ");
    }
}

//! The provider's metadata (OpenID Connect Discovery 1.0 §3) and the endpoint paths it names:
//! one place, so the document and the routes cannot drift apart.

use serde_json::{json, Value};

/// Paths of the provider's endpoints on a tenant's domain.
pub mod paths {
    pub const DISCOVERY: &str = "/.well-known/openid-configuration";
    pub const AUTHORIZE: &str = "/oidc/authorize";
    pub const TOKEN: &str = "/oidc/token";
    pub const USERINFO: &str = "/oidc/userinfo";
    pub const JWKS: &str = "/oidc/jwks";
    pub const INTROSPECT: &str = "/oidc/introspect";
    pub const REVOKE: &str = "/oidc/revoke";
    pub const END_SESSION: &str = "/oidc/logout";
}

/// The discovery document for `issuer` (`https://<sso-domain>`, exactly, no trailing slash).
/// It lists only what is built: seed 002's ticked items.
pub fn discovery_document(issuer: &str) -> Value {
    let url = |path: &str| format!("{issuer}{path}");
    let client_auth = ["client_secret_basic", "client_secret_post"];
    json!({
        "issuer": issuer,
        "authorization_endpoint": url(paths::AUTHORIZE),
        "token_endpoint": url(paths::TOKEN),
        "userinfo_endpoint": url(paths::USERINFO),
        "jwks_uri": url(paths::JWKS),
        "introspection_endpoint": url(paths::INTROSPECT),
        "revocation_endpoint": url(paths::REVOKE),
        "end_session_endpoint": url(paths::END_SESSION),
        "scopes_supported": ["openid", "profile"],
        "response_types_supported": ["code", "token", "id_token token"],
        // The code flow answers in the query; implicit responses in the fragment (see
        // docs/decisions.md).
        "response_modes_supported": ["query", "fragment"],
        "grant_types_supported": ["authorization_code", "implicit", "password"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256", "RS512", "HS512"],
        // "none" is how public applications (PKCE, no secret) call the token endpoint.
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": client_auth,
        "revocation_endpoint_auth_methods_supported": client_auth,
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash"],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_names_the_issuer_exactly_and_only_what_is_offered() {
        let document = discovery_document("https://sso.acme.org");
        assert_eq!(document["issuer"], "https://sso.acme.org");
        assert_eq!(
            document["token_endpoint"],
            "https://sso.acme.org/oidc/token"
        );
        let response_types = document["response_types_supported"].as_array().unwrap();
        assert!(
            !response_types.iter().any(|t| t == "code id_token"),
            "no hybrid"
        );
        let grants = document["grant_types_supported"].as_array().unwrap();
        assert!(!grants.iter().any(|g| g == "client_credentials"));
        let algs = document["id_token_signing_alg_values_supported"]
            .as_array()
            .unwrap();
        assert!(!algs.iter().any(|a| a.as_str().unwrap().starts_with("ES")));
        assert!(!algs.iter().any(|a| a.as_str().unwrap().starts_with("PS")));
    }
}

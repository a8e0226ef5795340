//! Checking an authorization request (OpenID Connect Core §3.1.2.1, §3.2.2.1, RFC 6749 §4.1.1,
//! RFC 7636) against the client application it names, before anyone is asked to sign in.
//!
//! The order matters: until the client and the redirect URI are known to be genuine, nothing may
//! be sent to the redirect URI (RFC 6749 §4.1.2.1), so those problems become an error page. After
//! that, every problem goes back to the application with the spec's error code and its `state`.

use vestibule_domain::{Seconds, Timestamp};

use crate::Client;

/// What the application asked to receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseType {
    /// Authorization code flow (with or without PKCE).
    Code,
    /// Implicit flow: an access token only (OAuth 2.0 implicit grant).
    Token,
    /// Implicit flow: an ID token and an access token.
    IdTokenToken,
}

impl ResponseType {
    fn is_implicit(self) -> bool {
        self != ResponseType::Code
    }

    fn issues_id_token(self) -> bool {
        self == ResponseType::IdTokenToken
    }
}

/// Where the response parameters go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseMode {
    Query,
    Fragment,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ChallengeMethod {
    S256,
    /// Never accepted any more; kept so a sign-in stored before S256 became the only method
    /// can still be read (and fails its code exchange only if the verifier is wrong).
    Plain,
}

/// A PKCE code challenge (RFC 7636).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CodeChallenge {
    pub challenge: String,
    pub method: ChallengeMethod,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prompt {
    None,
    Login,
    Consent,
    SelectAccount,
}

/// An authorization request that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub response_type: ResponseType,
    pub response_mode: ResponseMode,
    pub scopes: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<CodeChallenge>,
    pub prompt: Vec<Prompt>,
    pub max_age: Option<Seconds>,
    pub login_hint: Option<String>,
}

/// Why a request was refused, and where the answer goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeError {
    /// The client or the redirect URI cannot be trusted: tell the person, not the application.
    Page(String),
    /// Sent to the redirect URI with `error`, `error_description` and `state`.
    Redirect {
        redirect_uri: String,
        response_mode: ResponseMode,
        error: &'static str,
        description: String,
        state: Option<String>,
    },
}

/// Scope values this provider knows; others are ignored, as OpenID Connect Core §3.1.2.1 says.
const SCOPES: [&str; 2] = ["openid", "profile"];

fn single<'a>(params: &'a [(String, String)], name: &str) -> Result<Option<&'a str>, &'static str> {
    let mut values = params
        .iter()
        .filter(|(key, _)| key == name)
        .map(|(_, v)| v.as_str());
    let first = values.next();
    if values.next().is_some() {
        // RFC 6749 §3.1: parameters must not be included more than once.
        return Err("repeated");
    }
    Ok(first.filter(|v| !v.is_empty()))
}

/// RFC 7636 §4.1: 43 to 128 unreserved characters (code verifiers follow the same rule).
pub(crate) fn valid_challenge(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Checks the query (or form) parameters of an authorization request for `client`, the
/// application `client_id` names in this tenant (`None` when there is none).
pub fn check_request(
    params: &[(String, String)],
    client: Option<&Client>,
) -> Result<AuthorizationRequest, AuthorizeError> {
    let page = |message: &str| Err(AuthorizeError::Page(message.to_string()));
    let client_id = match single(params, "client_id") {
        Ok(Some(id)) => id,
        Ok(None) => return page("The application did not say who it is (client_id is missing)."),
        Err(_) => return page("The request names its application more than once."),
    };
    let Some(client) = client.filter(|c| c.client_id == client_id) else {
        return page("This application is not registered with this sign-in service.");
    };
    let redirect_uri = match single(params, "redirect_uri") {
        Ok(Some(uri)) => uri,
        Ok(None) => return page("The application did not say where to return (redirect_uri)."),
        Err(_) => return page("The request names more than one return address."),
    };
    // Exact, character-for-character match against the registered addresses.
    if !client
        .settings
        .redirect_uris
        .iter()
        .any(|r| r == redirect_uri)
    {
        return page(
            "The application asked to return to an address it has not registered. Its \
             administrator must add the exact address to the OIDC Client App.",
        );
    }

    // From here on errors go back to the application. Implicit responses use the fragment.
    let response_type_raw = single(params, "response_type").ok().flatten().unwrap_or("");
    let mut words: Vec<&str> = response_type_raw
        .split(' ')
        .filter(|w| !w.is_empty())
        .collect();
    words.sort_unstable();
    let response_type = match words.as_slice() {
        ["code"] => Some(ResponseType::Code),
        // Seed 002 ticks `code`, `token` and `token id_token`; a lone `id_token` is not offered.
        ["token"] => Some(ResponseType::Token),
        ["id_token", "token"] => Some(ResponseType::IdTokenToken),
        _ => None,
    };
    let default_mode = match response_type {
        Some(kind) if kind.is_implicit() => ResponseMode::Fragment,
        _ => ResponseMode::Query,
    };
    let state = single(params, "state").ok().flatten().map(str::to_string);
    let refuse = |mode: ResponseMode, error: &'static str, description: &str| {
        Err(AuthorizeError::Redirect {
            redirect_uri: redirect_uri.to_string(),
            response_mode: mode,
            error,
            description: description.to_string(),
            state: state.clone(),
        })
    };
    for name in [
        "client_id",
        "redirect_uri",
        "response_type",
        "response_mode",
        "scope",
        "state",
        "nonce",
        "prompt",
        "max_age",
        "login_hint",
        "code_challenge",
        "code_challenge_method",
    ] {
        if single(params, name).is_err() {
            return refuse(
                default_mode,
                "invalid_request",
                &format!("{name} is given more than once"),
            );
        }
    }
    if single(params, "request").ok().flatten().is_some() {
        return refuse(
            default_mode,
            "request_not_supported",
            "request objects are not supported",
        );
    }
    if single(params, "request_uri").ok().flatten().is_some() {
        return refuse(
            default_mode,
            "request_uri_not_supported",
            "request_uri is not supported",
        );
    }
    if single(params, "registration").ok().flatten().is_some() {
        return refuse(
            default_mode,
            "registration_not_supported",
            "dynamic registration is not supported",
        );
    }
    let Some(response_type) = response_type else {
        return if response_type_raw.is_empty() {
            refuse(default_mode, "invalid_request", "response_type is missing")
        } else {
            // Hybrid (code id_token, code token, …) and anything unknown.
            refuse(
                default_mode,
                "unsupported_response_type",
                &format!("response_type {response_type_raw} is not supported"),
            )
        };
    };
    let response_mode = match single(params, "response_mode").ok().flatten() {
        None => default_mode,
        Some("query") if response_type.is_implicit() => {
            return refuse(
                default_mode,
                "invalid_request",
                "tokens are never sent in the query; use response_mode=fragment",
            )
        }
        Some("query") => ResponseMode::Query,
        Some("fragment") => ResponseMode::Fragment,
        Some(other) => {
            return refuse(
                default_mode,
                "invalid_request",
                &format!("response_mode {other} is not supported"),
            )
        }
    };
    if response_type.is_implicit() && !client.settings.allow_implicit {
        return refuse(
            response_mode,
            "unauthorized_client",
            "the implicit flow is not enabled for this application",
        );
    }
    let scopes: Vec<String> = single(params, "scope")
        .ok()
        .flatten()
        .unwrap_or("")
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    if !scopes.iter().any(|s| s == "openid") {
        return refuse(
            response_mode,
            "invalid_scope",
            "the openid scope is required",
        );
    }
    let scopes = scopes
        .into_iter()
        .filter(|s| SCOPES.contains(&s.as_str()))
        .collect();
    let nonce = single(params, "nonce").ok().flatten().map(str::to_string);
    if response_type.issues_id_token() && nonce.is_none() {
        return refuse(
            response_mode,
            "invalid_request",
            "nonce is required when an ID token is returned from the authorization endpoint",
        );
    }
    let code_challenge = match (
        single(params, "code_challenge").ok().flatten(),
        single(params, "code_challenge_method").ok().flatten(),
    ) {
        (None, None) => None,
        (None, Some(_)) => {
            return refuse(
                response_mode,
                "invalid_request",
                "code_challenge_method without code_challenge",
            )
        }
        (Some(challenge), method) => {
            // OAuth 2.1 drops `plain`, and RFC 7636 §4.2 lets a server refuse it; an absent
            // method means `plain` (§4.3), so it is refused too.
            let method = match method {
                Some("S256") => ChallengeMethod::S256,
                None | Some("plain") => {
                    return refuse(
                        response_mode,
                        "invalid_request",
                        "code_challenge_method must be S256 (plain is not supported)",
                    )
                }
                Some(other) => {
                    return refuse(
                        response_mode,
                        "invalid_request",
                        &format!("code_challenge_method {other} is not supported; use S256"),
                    )
                }
            };
            if !valid_challenge(challenge) {
                return refuse(
                    response_mode,
                    "invalid_request",
                    "code_challenge must be 43 to 128 unreserved characters",
                );
            }
            Some(CodeChallenge {
                challenge: challenge.to_string(),
                method,
            })
        }
    };
    if response_type == ResponseType::Code
        && client.settings.require_pkce
        && code_challenge.is_none()
    {
        return refuse(
            response_mode,
            "invalid_request",
            "this application must use PKCE: code_challenge is required",
        );
    }
    let mut prompt = Vec::new();
    for value in single(params, "prompt")
        .ok()
        .flatten()
        .unwrap_or("")
        .split(' ')
        .filter(|s| !s.is_empty())
    {
        prompt.push(match value {
            "none" => Prompt::None,
            "login" => Prompt::Login,
            "consent" => Prompt::Consent,
            "select_account" => Prompt::SelectAccount,
            other => {
                return refuse(
                    response_mode,
                    "invalid_request",
                    &format!("prompt {other} is not supported"),
                )
            }
        });
    }
    if prompt.contains(&Prompt::None) && prompt.len() > 1 {
        return refuse(
            response_mode,
            "invalid_request",
            "prompt=none cannot be combined with other prompt values",
        );
    }
    let max_age = match single(params, "max_age").ok().flatten() {
        None => None,
        Some(value) => match value.parse::<i64>() {
            Ok(seconds) if seconds >= 0 => Some(Seconds(seconds)),
            _ => {
                return refuse(
                    response_mode,
                    "invalid_request",
                    "max_age must be a number of seconds",
                )
            }
        },
    };
    Ok(AuthorizationRequest {
        client_id: client_id.to_string(),
        redirect_uri: redirect_uri.to_string(),
        response_type,
        response_mode,
        scopes,
        state,
        nonce,
        code_challenge,
        prompt,
        max_age,
        login_hint: single(params, "login_hint")
            .ok()
            .flatten()
            .map(str::to_string),
    })
}

/// What to do about signing in, given the member's session (when they have one) and when they
/// last signed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInNeed {
    /// The session may be used as it is.
    UseSession,
    /// Show the sign-in page (again).
    SignIn,
    /// `prompt=none` and a sign-in is needed: answer `login_required`.
    LoginRequired,
}

impl AuthorizationRequest {
    /// OpenID Connect Core §3.1.2.1: `prompt=login` and an exceeded `max_age` force a new
    /// sign-in; `prompt=none` must never show a page.
    pub fn sign_in_need(&self, auth_time: Option<Timestamp>, now: Timestamp) -> SignInNeed {
        let fresh_enough = match (auth_time, self.max_age) {
            (None, _) => false,
            (Some(_), None) => true,
            // "max_age=0 is equivalent to prompt=login" (Core §3.1.2.1, errata set 2).
            (Some(at), Some(max_age)) => max_age.0 > 0 && now - at <= max_age,
        };
        let forced = self.prompt.contains(&Prompt::Login);
        match (fresh_enough && !forced, self.prompt.contains(&Prompt::None)) {
            (true, _) => SignInNeed::UseSession,
            (false, true) => SignInNeed::LoginRequired,
            (false, false) => SignInNeed::SignIn,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ClientSettings;

    const REDIRECT: &str = "https://events.example.org/cb";

    fn client(adjust: impl FnOnce(&mut ClientSettings)) -> Client {
        let mut settings = ClientSettings::for_tests();
        settings.redirect_uris = vec![REDIRECT.to_string()];
        adjust(&mut settings);
        Client::for_tests("events", settings)
    }

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn code_request(extra: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut all = params(&[
            ("client_id", "events"),
            ("redirect_uri", REDIRECT),
            ("response_type", "code"),
            ("scope", "openid profile email"),
            ("state", "s-123"),
        ]);
        for (key, value) in extra {
            all.retain(|(k, _)| k != key);
            all.push((key.to_string(), value.to_string()));
        }
        all
    }

    fn redirected_error(
        result: Result<AuthorizationRequest, AuthorizeError>,
    ) -> (&'static str, ResponseMode, Option<String>) {
        match result {
            Err(AuthorizeError::Redirect {
                error,
                response_mode,
                state,
                redirect_uri,
                ..
            }) => {
                assert_eq!(redirect_uri, REDIRECT);
                (error, response_mode, state)
            }
            other => panic!("expected an error for the application, got {other:?}"),
        }
    }

    #[test]
    fn a_plain_code_request_passes_and_keeps_known_scopes() {
        let request = check_request(&code_request(&[]), Some(&client(|_| {}))).unwrap();
        assert_eq!(request.response_type, ResponseType::Code);
        assert_eq!(request.response_mode, ResponseMode::Query);
        assert_eq!(request.scopes, ["openid", "profile"]);
        assert_eq!(request.state.as_deref(), Some("s-123"));
    }

    #[test]
    fn untrusted_client_or_redirect_uri_gets_a_page_not_a_redirect() {
        let events = client(|_| {});
        for request in [
            code_request(&[("client_id", "")]),
            code_request(&[("client_id", "someone-else")]),
            code_request(&[("redirect_uri", "")]),
            code_request(&[("redirect_uri", "https://events.example.org/cb/")]),
            code_request(&[("redirect_uri", "https://evil.example/cb")]),
        ] {
            assert!(
                matches!(
                    check_request(&request, Some(&events)),
                    Err(AuthorizeError::Page(_))
                ),
                "{request:?}"
            );
        }
        assert!(matches!(
            check_request(&code_request(&[]), None),
            Err(AuthorizeError::Page(_))
        ));
        let mut twice = code_request(&[]);
        twice.push(("redirect_uri".into(), "https://evil.example/cb".into()));
        assert!(matches!(
            check_request(&twice, Some(&events)),
            Err(AuthorizeError::Page(_))
        ));
    }

    #[test]
    fn unsupported_and_disabled_flows_get_the_specs_errors_with_state() {
        let events = client(|_| {});
        for hybrid in [
            "code id_token",
            "code token",
            "code id_token token",
            "id_token",
            "device_code",
            "x",
        ] {
            let (error, _, state) = redirected_error(check_request(
                &code_request(&[("response_type", hybrid)]),
                Some(&events),
            ));
            assert_eq!(error, "unsupported_response_type", "{hybrid}");
            assert_eq!(state.as_deref(), Some("s-123"));
        }
        let (error, _, _) = redirected_error(check_request(
            &code_request(&[("response_type", "")]),
            Some(&events),
        ));
        assert_eq!(error, "invalid_request");
        // Implicit is off unless the application enables it; its errors use the fragment.
        let implicit = code_request(&[("response_type", "id_token token"), ("nonce", "n")]);
        let (error, mode, _) = redirected_error(check_request(&implicit, Some(&events)));
        assert_eq!(
            (error, mode),
            ("unauthorized_client", ResponseMode::Fragment)
        );
        let enabled = client(|s| s.allow_implicit = true);
        let request = check_request(&implicit, Some(&enabled)).unwrap();
        assert_eq!(request.response_type, ResponseType::IdTokenToken);
        assert_eq!(request.response_mode, ResponseMode::Fragment);
        // Implicit ID tokens need a nonce, and tokens never travel in the query.
        let (error, _, _) = redirected_error(check_request(
            &code_request(&[("response_type", "token id_token")]),
            Some(&enabled),
        ));
        assert_eq!(error, "invalid_request");
        let (error, _, _) = redirected_error(check_request(
            &code_request(&[("response_type", "token"), ("response_mode", "query")]),
            Some(&enabled),
        ));
        assert_eq!(error, "invalid_request");
        for (name, error) in [
            ("request", "request_not_supported"),
            ("request_uri", "request_uri_not_supported"),
            ("registration", "registration_not_supported"),
        ] {
            let (got, _, _) =
                redirected_error(check_request(&code_request(&[(name, "x")]), Some(&events)));
            assert_eq!(got, error);
        }
    }

    #[test]
    fn scope_pkce_prompt_and_max_age_are_checked() {
        let events = client(|_| {});
        let (error, _, _) = redirected_error(check_request(
            &code_request(&[("scope", "profile")]),
            Some(&events),
        ));
        assert_eq!(error, "invalid_scope");

        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        let s256 = check_request(
            &code_request(&[
                ("code_challenge", challenge),
                ("code_challenge_method", "S256"),
            ]),
            Some(&events),
        )
        .unwrap();
        assert_eq!(s256.code_challenge.unwrap().method, ChallengeMethod::S256);
        for bad in [
            // plain, by default or by name: refused (OAuth 2.1).
            vec![("code_challenge", challenge)],
            vec![
                ("code_challenge", challenge),
                ("code_challenge_method", "plain"),
            ],
            vec![
                ("code_challenge", challenge),
                ("code_challenge_method", "S512"),
            ],
            vec![("code_challenge", "short")],
            vec![("code_challenge_method", "S256")],
        ] {
            let (error, _, _) = redirected_error(check_request(&code_request(&bad), Some(&events)));
            assert_eq!(error, "invalid_request", "{bad:?}");
        }
        let strict = client(|s| s.require_pkce = true);
        let (error, _, _) = redirected_error(check_request(&code_request(&[]), Some(&strict)));
        assert_eq!(error, "invalid_request");

        for bad in [
            ("prompt", "none login"),
            ("prompt", "sometimes"),
            ("max_age", "-1"),
            ("max_age", "soon"),
        ] {
            let (error, _, _) =
                redirected_error(check_request(&code_request(&[bad]), Some(&events)));
            assert_eq!(error, "invalid_request", "{bad:?}");
        }
    }

    #[test]
    fn prompt_and_max_age_decide_about_signing_in_again() {
        let events = client(|_| {});
        let now = Timestamp(10_000);
        let request =
            |extra: &[(&str, &str)]| check_request(&code_request(extra), Some(&events)).unwrap();
        let plain = request(&[]);
        assert_eq!(
            plain.sign_in_need(Some(Timestamp(1)), now),
            SignInNeed::UseSession
        );
        assert_eq!(plain.sign_in_need(None, now), SignInNeed::SignIn);
        let login = request(&[("prompt", "login")]);
        assert_eq!(login.sign_in_need(Some(now), now), SignInNeed::SignIn);
        let none = request(&[("prompt", "none")]);
        assert_eq!(none.sign_in_need(None, now), SignInNeed::LoginRequired);
        assert_eq!(none.sign_in_need(Some(now), now), SignInNeed::UseSession);
        let max_age = request(&[("max_age", "60")]);
        assert_eq!(
            max_age.sign_in_need(Some(Timestamp(9_950)), now),
            SignInNeed::UseSession
        );
        assert_eq!(
            max_age.sign_in_need(Some(Timestamp(9_000)), now),
            SignInNeed::SignIn
        );
        let zero = request(&[("max_age", "0")]);
        assert_eq!(zero.sign_in_need(Some(now), now), SignInNeed::SignIn);
        let none_max_age = request(&[("max_age", "0"), ("prompt", "none")]);
        assert_eq!(
            none_max_age.sign_in_need(Some(Timestamp(9_999)), now),
            SignInNeed::LoginRequired
        );
    }
}

//! The authorization endpoint's decisions, made here in one call so the HTTP adapter only
//! translates them: check the request, decide whether the member must sign in (again),
//! whether consent must be asked, and what goes back to the application when something stops
//! the request. Kanidm's `Authorizer` is the model.

use vestibule_domain::{SiteAddress, TenantId, Timestamp};

use crate::{
    check_request, paths, AuthorizationRequest, AuthorizeError, Client, Consents, OidcClients,
    OidcError, Prompt, ResponseMode, SignInNeed,
};

/// The member's browser as the authorization endpoint sees it: who is signed in, since when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionFacts<'a> {
    pub subject: &'a str,
    pub signed_in_at: Timestamp,
}

/// An error answer for the application's redirect URI (RFC 6749 §4.1.2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectError {
    pub redirect_uri: String,
    pub response_mode: ResponseMode,
    pub error: &'static str,
    pub description: String,
    pub state: Option<String>,
}

impl AuthorizationRequest {
    /// `error` for this request's redirect URI, with its `state`.
    pub fn refusal(&self, error: &'static str, description: &str) -> RedirectError {
        RedirectError {
            redirect_uri: self.redirect_uri.clone(),
            response_mode: self.response_mode,
            error,
            description: description.to_string(),
            state: self.state.clone(),
        }
    }
}

/// What to do with an authorization request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The client or the redirect URI cannot be trusted: tell the person, not the application.
    ErrorPage(String),
    /// Back to the application with an error.
    ErrorRedirect(RedirectError),
    /// The member must sign in, then come back to `resume` (the request without what forced
    /// the sign-in, so it is not asked twice). `again`: a member is signed in, but not
    /// recently enough; their session stays until they sign in again.
    SignIn { resume: String, again: bool },
    /// Ask the member to consent; the consent form sends `resume` back.
    AskConsent {
        client: Box<Client>,
        scopes: Vec<String>,
        resume: String,
    },
    /// Issue what the request asked for to the signed-in member.
    Issue {
        client: Box<Client>,
        request: Box<AuthorizationRequest>,
    },
}

/// The member's answer on the consent page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentAnswer {
    Allow,
    Deny,
}

/// What the consent page's answer leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsentDecision {
    /// The request the form carried no longer passes its checks (or never did).
    Refused(Decision),
    /// The member said no: `access_denied` to the application, recorded for its admins.
    Denied {
        client: Box<Client>,
        refusal: RedirectError,
    },
    /// Not signed in (any more), or not freshly enough: through the authorization endpoint
    /// again, at `to`.
    Again { to: String },
    /// Consent given and stored: issue now. Going back through the authorization endpoint
    /// would ask again whenever consent is not remembered (0 days asked forever).
    Issue {
        client: Box<Client>,
        request: Box<AuthorizationRequest>,
    },
}

#[derive(Clone)]
pub struct Authorizer {
    clients: OidcClients,
    consents: Consents,
}

impl Authorizer {
    pub fn new(clients: OidcClients, consents: Consents) -> Self {
        Self { clients, consents }
    }

    /// The checked request and its client, or the decision that stops it.
    async fn checked(
        &self,
        tenant: TenantId,
        address: &SiteAddress,
        params: &[(String, String)],
    ) -> Result<Result<(Client, AuthorizationRequest), Decision>, OidcError> {
        let client_id = params
            .iter()
            .find(|(k, _)| k == "client_id")
            .map(|(_, v)| v.as_str())
            .unwrap_or_default();
        let client = match self.clients.get(tenant, client_id).await {
            Ok(client) => Some(client),
            Err(OidcError::NoSuchClient) => None,
            Err(error) => return Err(error),
        };
        // Served elsewhere: its issuer is another domain's, so nothing is sent to its
        // redirect URI from here (the vendor would reject the answer as from a stranger).
        if let Some(client) = &client {
            let bound = client.settings.domain.as_deref();
            if !address.serves(bound) {
                let refusal = address.refusal(&client.name, bound);
                return Ok(Err(Decision::ErrorPage(format!("{refusal}."))));
            }
        }
        let request = match check_request(params, client.as_ref()) {
            Ok(request) => request,
            Err(AuthorizeError::Page(message)) => return Ok(Err(Decision::ErrorPage(message))),
            Err(AuthorizeError::Redirect {
                redirect_uri,
                response_mode,
                error,
                description,
                state,
            }) => {
                return Ok(Err(Decision::ErrorRedirect(RedirectError {
                    redirect_uri,
                    response_mode,
                    error,
                    description,
                    state,
                })))
            }
        };
        // check_request refuses a request whose client is unknown.
        let client = client.ok_or(OidcError::NoSuchClient)?;
        Ok(Ok((client, request)))
    }

    /// OpenID Connect Core §3.1.2: the request's checks, then sign-in, then consent.
    pub async fn decide(
        &self,
        tenant: TenantId,
        address: &SiteAddress,
        params: &[(String, String)],
        session: Option<SessionFacts<'_>>,
        now: Timestamp,
    ) -> Result<Decision, OidcError> {
        let (client, request) = match self.checked(tenant, address, params).await? {
            Ok(checked) => checked,
            Err(decision) => return Ok(decision),
        };
        let session = match request.sign_in_need(session.map(|s| s.signed_in_at), now) {
            SignInNeed::LoginRequired => {
                return Ok(Decision::ErrorRedirect(
                    request.refusal("login_required", "the member must sign in"),
                ))
            }
            SignInNeed::SignIn => {
                return Ok(Decision::SignIn {
                    resume: resume_url(params),
                    again: session.is_some(),
                })
            }
            SignInNeed::UseSession => match session {
                Some(session) => session,
                // sign_in_need uses a session only when there is one.
                None => {
                    return Ok(Decision::SignIn {
                        resume: resume_url(params),
                        again: false,
                    })
                }
            },
        };
        let consent_needed = self
            .consents
            .needed(
                &client,
                session.subject,
                &request.scopes,
                &request.prompt,
                now,
            )
            .await?;
        if consent_needed {
            if request.prompt.contains(&Prompt::None) {
                return Ok(Decision::ErrorRedirect(
                    request.refusal("consent_required", "the member must consent"),
                ));
            }
            return Ok(Decision::AskConsent {
                scopes: request.scopes.clone(),
                client: Box::new(client),
                resume: resume_url(params),
            });
        }
        Ok(Decision::Issue {
            client: Box::new(client),
            request: Box::new(request),
        })
    }

    /// The consent page's answer for `resume` (the request it was asked for). The request is
    /// checked again from scratch: the form is only a member's yes or no, never a way around
    /// the checks.
    pub async fn decide_consent(
        &self,
        tenant: TenantId,
        address: &SiteAddress,
        resume: &str,
        answer: ConsentAnswer,
        session: Option<SessionFacts<'_>>,
        now: Timestamp,
    ) -> Result<ConsentDecision, OidcError> {
        let query = resume
            .strip_prefix(paths::AUTHORIZE)
            .and_then(|rest| rest.strip_prefix('?'))
            .unwrap_or_default();
        let params: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        let (client, request) = match self.checked(tenant, address, &params).await? {
            Ok(checked) => checked,
            Err(decision) => return Ok(ConsentDecision::Refused(decision)),
        };
        if answer == ConsentAnswer::Deny {
            return Ok(ConsentDecision::Denied {
                client: Box::new(client),
                refusal: request.refusal("access_denied", "the member did not consent"),
            });
        }
        let Some(session) = session else {
            return Ok(ConsentDecision::Again {
                to: resume.to_string(),
            });
        };
        self.consents
            .grant(&client, session.subject, &request.scopes, now)
            .await?;
        if request.sign_in_need(Some(session.signed_in_at), now) != SignInNeed::UseSession {
            return Ok(ConsentDecision::Again {
                to: resume_url(&params),
            });
        }
        Ok(ConsentDecision::Issue {
            client: Box::new(client),
            request: Box::new(request),
        })
    }
}

/// What RP-initiated logout does (RP-Initiated Logout 1.0 §2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogoutDecision {
    /// Ask the signed-in member first: no hint proved the request comes from an application
    /// they use, for them (an `<img>` on any page could have sent it).
    Ask,
    /// End the session (if any), then return to `back` when the hint's application registered
    /// that address, or show the signed-out page.
    SignOut { back: Option<String> },
}

/// RP-initiated logout: `hint` is the verified `id_token_hint` (if one came and verified),
/// `member` the signed-in member's subject, `confirmed` whether the member pressed "Sign out"
/// on the confirmation page, `return_to` the `post_logout_redirect_uri` asked for.
pub fn decide_logout(
    hint: Option<&crate::LogoutHint>,
    member: Option<&str>,
    confirmed: bool,
    return_to: Option<&str>,
) -> LogoutDecision {
    let hint_is_for_member = hint.is_some_and(|hint| Some(hint.subject.as_str()) == member);
    if member.is_some() && !confirmed && !hint_is_for_member {
        return LogoutDecision::Ask;
    }
    // The return address is used only when it is registered for the application the hint
    // proves.
    let back = match (hint, return_to) {
        (Some(hint), Some(uri))
            if hint
                .client
                .settings
                .post_logout_redirect_uris
                .iter()
                .any(|registered| registered == uri) =>
        {
            Some(uri.to_string())
        }
        _ => None,
    };
    LogoutDecision::SignOut { back }
}

/// The request to come back to after the hosted sign-in or consent page: the same request
/// without `prompt`, so `prompt=login` or `prompt=consent` is not asked twice, and without a
/// `max_age=0` (a sign-in that has then happened; asking for it again would never end).
pub fn resume_url(params: &[(String, String)]) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (key, value) in params {
        if key == "prompt" || (key == "max_age" && value.trim() == "0") {
            continue;
        }
        query.append_pair(key, value);
    }
    format!("{}?{}", paths::AUTHORIZE, query.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn resuming_drops_what_forced_the_sign_in_and_keeps_the_rest() {
        let params = pairs(&[
            ("client_id", "app"),
            ("prompt", "login consent"),
            ("max_age", "0"),
            ("state", "a b&c"),
        ]);
        let resume = resume_url(&params);
        assert_eq!(resume, "/oidc/authorize?client_id=app&state=a+b%26c");
        let kept = pairs(&[("max_age", "600")]);
        assert_eq!(resume_url(&kept), "/oidc/authorize?max_age=600");
    }

    fn hint(subject: &str) -> crate::LogoutHint {
        let mut settings = crate::ClientSettings::for_tests();
        settings.post_logout_redirect_uris = vec!["https://events.example.org/bye".into()];
        crate::LogoutHint {
            subject: subject.into(),
            client: crate::Client::for_tests("events", settings),
        }
    }

    #[test]
    fn logout_asks_unless_a_hint_proves_the_member_asked() {
        let bye = Some("https://events.example.org/bye");
        let jane = hint("jane");
        // No hint, or someone else's: ask the signed-in member.
        assert_eq!(
            decide_logout(None, Some("jane"), false, bye),
            LogoutDecision::Ask
        );
        let omar = hint("omar");
        assert_eq!(
            decide_logout(Some(&omar), Some("jane"), false, bye),
            LogoutDecision::Ask
        );
        // The member's own hint: out, and back to the registered address only.
        assert_eq!(
            decide_logout(Some(&jane), Some("jane"), false, bye),
            LogoutDecision::SignOut {
                back: bye.map(str::to_string)
            }
        );
        assert_eq!(
            decide_logout(
                Some(&jane),
                Some("jane"),
                false,
                Some("https://evil.example/")
            ),
            LogoutDecision::SignOut { back: None }
        );
        // Confirmed on the page, or nobody signed in: nothing to ask.
        assert_eq!(
            decide_logout(None, Some("jane"), true, bye),
            LogoutDecision::SignOut { back: None }
        );
        assert_eq!(
            decide_logout(None, None, false, None),
            LogoutDecision::SignOut { back: None }
        );
    }
}

//! Test connection: each step in plain words. Every step runs, so every problem shows, unless
//! iMIS itself does not answer: then the steps that need it say so without waiting on it again
//! (a slow iMIS would otherwise cost each of them the whole timeout in turn).

use vestibule_imis::{Imis, ImisError};

use crate::ImisConnection;

/// One step of the check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckStep {
    pub step: String,
    pub ok: bool,
    pub detail: String,
}

impl CheckStep {
    pub fn passed(step: &str, detail: impl Into<String>) -> Self {
        Self {
            step: step.to_string(),
            ok: true,
            detail: detail.into(),
        }
    }

    pub fn failed(step: &str, detail: impl Into<String>) -> Self {
        Self {
            step: step.to_string(),
            ok: false,
            detail: detail.into(),
        }
    }
}

fn unreachable_words(error: &ImisError) -> String {
    match error {
        ImisError::Timeout { seconds, .. } => {
            format!("iMIS did not answer within {seconds} seconds. It may be down or overloaded.")
        }
        ImisError::Unreachable { detail, .. } => format!(
            "Vestibule could not connect ({detail}). Check the address and that the site's certificate is valid."
        ),
        // The status and what kind of answer it was; never iMIS's own page.
        ImisError::Unexpected { status, .. } if *status >= 500 => format!(
            "iMIS answered HTTP {status} ({}): the site is not serving requests right now.",
            reason(*status)
        ),
        ImisError::Unexpected { status, .. } => {
            format!("iMIS answered HTTP {status}, which Vestibule did not expect here.")
        }
        other => other.to_string(),
    }
}

/// The standard reason phrase of a status code, for the few an iMIS answers with when down.
fn reason(status: u16) -> &'static str {
    match status {
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "an error",
    }
}

/// What the steps after an unanswered "iMIS address" say instead of trying.
const NOT_CHECKED: &str = "Not checked: iMIS did not answer (see iMIS address).";

/// The steps so far, each told to `report` the moment it is known, so a page can show the
/// check's progress while the slower steps still wait on iMIS.
struct Reported<'a> {
    steps: Vec<CheckStep>,
    report: &'a (dyn Fn(&CheckStep) + Send + Sync),
}

impl Reported<'_> {
    fn push(&mut self, step: CheckStep) {
        (self.report)(&step);
        self.steps.push(step);
    }
}

pub(crate) async fn run(
    connection: &ImisConnection,
    report: &(dyn Fn(&CheckStep) + Send + Sync),
) -> Vec<CheckStep> {
    let imis = &connection.imis;
    let mut steps = Reported {
        steps: Vec::new(),
        report,
    };

    let address = "iMIS address";
    let reached = imis.page_status(imis.base_url()).await;
    steps.push(match &reached {
        Ok(status) if *status >= 500 => CheckStep::failed(
            address,
            format!(
                "{} answered HTTP {status} ({}): the site is not serving pages right now.",
                imis.base_url(),
                reason(*status)
            ),
        ),
        Ok(status) => {
            let transport = if imis.base_url().starts_with("https://") {
                "over a verified HTTPS connection"
            } else {
                "over plain HTTP, accepted only for a server on this machine"
            };
            CheckStep::passed(
                address,
                format!("{} answered (HTTP {status}) {transport}.", imis.base_url()),
            )
        }
        Err(error) => CheckStep::failed(address, unreachable_words(error)),
    });
    if !matches!(reached, Ok(status) if status < 500) {
        for step in DEPENDENT_STEPS {
            steps.push(CheckStep::failed(step, NOT_CHECKED));
        }
        return steps.steps;
    }

    let account = "Background account";
    let token = if connection.api_username.is_empty() || connection.api_password.is_empty() {
        steps.push(CheckStep::failed(
            account,
            "Enter the background account's username and password: Vestibule reads member profiles with it.",
        ));
        None
    } else {
        match imis
            .password_grant(&connection.api_username, &connection.api_password)
            .await
        {
            Ok(token) => {
                steps.push(CheckStep::passed(
                    account,
                    format!("/token accepted {}.", connection.api_username),
                ));
                Some(token)
            }
            Err(ImisError::InvalidGrant(_)) => {
                steps.push(CheckStep::failed(
                    account,
                    format!(
                        "iMIS refused the username or password of {}.",
                        connection.api_username
                    ),
                ));
                None
            }
            Err(error) => {
                steps.push(CheckStep::failed(account, unreachable_words(&error)));
                None
            }
        }
    };

    let query = "Profile IQA";
    steps.push(match (&token, connection.profile_iqa.is_empty()) {
        (_, true) => CheckStep::failed(query, "Enter the IQA query that returns a member's profile."),
        (None, false) => CheckStep::failed(query, "Not checked: it needs the background account."),
        (Some(token), false) => match imis
            .profile(token, &connection.profile_iqa, &connection.api_username)
            .await
        {
            Ok(profile) => CheckStep::passed(
                query,
                format!(
                    "{} returned {} fields for {}.",
                    connection.profile_iqa,
                    profile.properties.len(),
                    connection.api_username
                ),
            ),
            Err(ImisError::NoProfile) => CheckStep::failed(
                query,
                format!(
                    "{} ran but returned no row for {}. It must take the username as its parameter.",
                    connection.profile_iqa, connection.api_username
                ),
            ),
            Err(ImisError::Unexpected { status: 400 | 404 | 500, .. }) => CheckStep::failed(
                query,
                format!("iMIS does not run {}. Check the query's path.", connection.profile_iqa),
            ),
            Err(error) => CheckStep::failed(query, unreachable_words(&error)),
        },
    });

    for (label, credentials, page) in [
        (
            "OpenID Connect",
            &connection.oidc,
            &connection.oidc_sso_page,
        ),
        ("SAML", &connection.saml, &connection.saml_sso_page),
    ] {
        let step = format!("{label} client application");
        steps.push(match credentials {
            None => CheckStep::failed(
                &step,
                format!("Enter the {label} RiSE client id and secret."),
            ),
            Some(credentials) => client_check(imis, &step, credentials).await,
        });
        let step = format!("{label} SSO page");
        steps.push(if page.is_empty() {
            CheckStep::failed(&step, format!("Enter the {label} SSO page (the published page with the Single Sign On content item)."))
        } else {
            match imis.page_status(page).await {
                Ok(status) if status < 400 => {
                    CheckStep::passed(&step, format!("{page} answered (HTTP {status})."))
                }
                Ok(status) => CheckStep::failed(
                    &step,
                    format!("{page} answered HTTP {status}. Check that the page is published at this address."),
                ),
                Err(error) => CheckStep::failed(&step, unreachable_words(&error)),
            }
        });
    }
    steps.steps
}

/// The steps after "iMIS address", in order: each needs iMIS to answer.
const DEPENDENT_STEPS: [&str; 6] = [
    "Background account",
    "Profile IQA",
    "OpenID Connect client application",
    "OpenID Connect SSO page",
    "SAML client application",
    "SAML SSO page",
];

/// iMIS checks a client's id and secret before it looks at the refresh token, so a made-up
/// token tells a wrong secret (`invalid_client`) from a right one (`invalid_grant`).
async fn client_check(
    imis: &Imis,
    step: &str,
    credentials: &vestibule_imis::ClientCredentials,
) -> CheckStep {
    match imis
        .refresh_token_grant(credentials, "vestibule-connection-test")
        .await
    {
        Err(ImisError::InvalidGrant(_)) => CheckStep::passed(
            step,
            format!("iMIS accepts the client id {} and its secret.", credentials.client_id),
        ),
        Err(ImisError::InvalidClient(_)) => CheckStep::failed(
            step,
            format!(
                "iMIS does not accept the client id {} with this secret. Copy both from RiSE > Client Applications.",
                credentials.client_id
            ),
        ),
        Ok(_) => CheckStep::passed(step, "iMIS accepts the client application."),
        Err(error) => CheckStep::failed(step, unreachable_words(&error)),
    }
}

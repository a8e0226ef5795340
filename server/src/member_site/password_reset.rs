//! "Forgot your password?" for members of the built-in directory: a link by e-mail, on the
//! tenant's own domain, that works once for an hour. Offered only when the tenant signs members
//! in with the directory and this installation sends e-mail.

use axum::extract::rejection::FormRejection;
use axum::extract::{Query, State};
use axum::http::{header, Extensions, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Form, Router};
use serde::Deserialize;
use serde_json::json;
use vestibule_audit::{AuditAction, Change};
use vestibule_domain::{Email, Timestamp};
use vestibule_mail::{Mail, MailKind};
use vestibule_members::MembersError;

use super::pages;
use super::site::{client_address, unavailable, FromThisSite, Site, SiteState};

pub(super) fn routes() -> Router<SiteState> {
    Router::new()
        .route("/password/forgot", get(forgot_page).post(send_link))
        .route("/password/reset", get(choose_page).post(set_password))
}

/// Where the reset pages are not offered, they are not found: the page that says so.
fn not_offered(site: &Site) -> Option<Response> {
    if site.branding.password_reset {
        None
    } else {
        Some(
            (
                StatusCode::NOT_FOUND,
                pages::error(
                    &site.branding,
                    &pages::Page {
                        title: "Not available".to_string(),
                        happened: "Passwords cannot be reset here.".to_string(),
                        try_next: "Please contact your association for help with signing in."
                            .to_string(),
                    },
                ),
            )
                .into_response(),
        )
    }
}

#[derive(Deserialize, Default)]
struct ForgotForm {
    #[serde(default)]
    who: String,
    #[serde(default)]
    return_to: String,
}

async fn forgot_page(site: Site, Query(query): Query<ForgotForm>) -> Response {
    if let Some(response) = not_offered(&site) {
        return response;
    }
    let return_to = vestibule_members::safe_return_to(&query.return_to);
    pages::forgot_password(&site.branding, &return_to, None).into_response()
}

/// Answers "check your e-mail" at once and makes and queues the links afterwards, so neither
/// the answer nor its timing says whether anyone matched.
async fn send_link(
    State(state): State<SiteState>,
    _: FromThisSite,
    site: Site,
    extensions: Extensions,
    form: Result<Form<ForgotForm>, FormRejection>,
) -> Response {
    if let Some(response) = not_offered(&site) {
        return response;
    }
    let Ok(Form(form)) = form else {
        let page = pages::forgot_password(&site.branding, "/", Some("Enter your username."));
        return (StatusCode::BAD_REQUEST, page).into_response();
    };
    let return_to = vestibule_members::safe_return_to(&form.return_to);
    let who = form.who.trim().to_string();
    if who.is_empty() || who.chars().count() > Email::MAX_LEN {
        let page = pages::forgot_password(
            &site.branding,
            &return_to,
            Some("Enter your username or the e-mail address on your account."),
        );
        return (StatusCode::BAD_REQUEST, page).into_response();
    }
    let client = client_address(&extensions);
    let taken = state
        .site
        .members
        .take_reset_request(site.tenant.id, &client, Timestamp::now());
    match taken.await {
        Ok(Ok(())) => {}
        Ok(Err(wait)) => {
            let minutes = (wait.0 + 59) / 60;
            let message = format!(
                "Too many reset requests from your network: try again in {minutes} minutes."
            );
            let page = pages::forgot_password(&site.branding, &return_to, Some(&message));
            let retry_after = [(header::RETRY_AFTER, wait.0.to_string())];
            return (StatusCode::TOO_MANY_REQUESTS, retry_after, page).into_response();
        }
        Err(error) => return unavailable(&error),
    }
    if let Some(outbox) = state.site.mail.clone() {
        let members = state.site.members.clone();
        let (tenant, origin) = (site.tenant.id, site.origin.clone());
        let (association, support) = (
            site.branding.name.clone(),
            site.branding.support_contact.clone(),
        );
        tokio::spawn(async move {
            let now = Timestamp::now();
            let known = match members.members_known_as(tenant, &who).await {
                Ok(known) => known,
                Err(error) => {
                    tracing::error!(%error, "looking up members for a reset failed");
                    return;
                }
            };
            let lifetime = members.policy().reset_link_lifetime;
            for member in known {
                let Ok(to) = Email::parse(&member.email) else {
                    tracing::warn!(member = %member.username, "no usable e-mail address for a reset link");
                    continue;
                };
                // Past the hourly limit no link is made: it would replace the last one mailed.
                match outbox
                    .has_room(&to, MailKind::MemberPasswordReset, now)
                    .await
                {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!(member = %member.username, "reset link not made: the address's hourly limit");
                        continue;
                    }
                    Err(error) => {
                        tracing::error!(%error, "checking the outbox failed");
                        return;
                    }
                }
                let token = match members.password_reset_link(tenant, &member, now).await {
                    Ok(token) => token,
                    Err(error) => {
                        tracing::error!(%error, "making a member reset link failed");
                        continue;
                    }
                };
                let link = format!("{origin}/password/reset?token={token}");
                let support = (!support.is_empty()).then_some(support.as_str());
                let mail = Mail::member_password_reset(
                    to,
                    tenant,
                    &association,
                    &member.username,
                    &link,
                    lifetime,
                    support,
                );
                if let Err(error) = outbox.enqueue(&mail, now).await {
                    tracing::error!(%error, "queueing a member reset e-mail failed");
                }
            }
        });
    }
    pages::reset_link_sent(&site.branding, &return_to).into_response()
}

#[derive(Deserialize)]
struct ResetQuery {
    #[serde(default)]
    token: String,
}

async fn choose_page(
    State(state): State<SiteState>,
    site: Site,
    Query(query): Query<ResetQuery>,
) -> Response {
    if let Some(response) = not_offered(&site) {
        return response;
    }
    let member =
        state
            .site
            .members
            .reset_link_member(site.tenant.id, &query.token, Timestamp::now());
    match member.await {
        Ok(member) => pages::choose_password(&site.branding, &query.token, &member.username, None)
            .into_response(),
        Err(error) => super::hosted::error_response(&site, &error),
    }
}

#[derive(Deserialize)]
struct ResetForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
}

async fn set_password(
    State(state): State<SiteState>,
    _: FromThisSite,
    site: Site,
    form: Result<Form<ResetForm>, FormRejection>,
) -> Response {
    if let Some(response) = not_offered(&site) {
        return response;
    }
    let Ok(Form(form)) = form else {
        return super::hosted::error_response(&site, &MembersError::ResetLinkInvalid);
    };
    let members = &state.site.members;
    let now = Timestamp::now();
    // Mistakes the member can correct show the form again, with the link still working.
    let again = |username: &str, message: &str| {
        let page = pages::choose_password(&site.branding, &form.token, username, Some(message));
        (StatusCode::BAD_REQUEST, page).into_response()
    };
    let member = match members
        .reset_link_member(site.tenant.id, &form.token, now)
        .await
    {
        Ok(member) => member,
        Err(error) => return super::hosted::error_response(&site, &error),
    };
    if form.password != form.confirm {
        return again(&member.username, "The two passwords do not match.");
    }
    match members
        .reset_password(site.tenant.id, &form.token, &form.password, now)
        .await
    {
        Ok(member) => {
            // The admins' log shows who changed a password and how: here the member, by link.
            let change = Change {
                tenant: Some(site.tenant.id),
                actor: &member.username,
                action: AuditAction::MemberSetPassword,
                target: member.username.clone(),
                before: None,
                after: Some(json!({ "changed_by": "the member, from an e-mailed link" })),
            };
            state.site.audit.record_after(change, now).await;
            pages::password_changed(&site.branding).into_response()
        }
        Err(MembersError::Invalid(invalid)) => again(&member.username, &invalid.to_string()),
        Err(error) => super::hosted::error_response(&site, &error),
    }
}

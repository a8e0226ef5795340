//! An admin's "Test sign-in" on the tenant's domain: the built-in test relying party (OIDC)
//! and test service provider (SAML). The dashboard hands out a sealed link that works for ten
//! minutes for one app; the member signs in on the hosted page as usual, and the report shows
//! what the app would receive and what its library would check. The engines do the work
//! (`Grants::test_sign_in`, `SamlIdp::start_test`, `SamlIdp::check_test_response`); this maps HTTP.

use app::api::TEST_SIGN_IN_PURPOSE as PURPOSE;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use vestibule_domain::Timestamp;
use vestibule_oidc::{OidcError, Subject};
use vestibule_saml::{decode_post, test_acs_url};

use super::pages::{self, query_value, ReportCheck};
use super::saml::{answer_received, idp};
use super::site::{page, Site, SiteError, SiteState, Visitor};

pub(crate) fn routes() -> Router<SiteState> {
    Router::new()
        .route("/test-sign-in/oidc/{client_id}", get(oidc_test))
        .route("/test-sign-in/saml/acs", post(saml_acs))
        .route("/test-sign-in/saml/{app_id}", get(saml_test))
}

#[derive(Deserialize)]
struct TicketQuery {
    #[serde(default)]
    ticket: String,
}

/// Whether `ticket` is the dashboard's link for this tenant's `protocol` app `app_id`, still
/// in time.
fn ticket_opens(
    state: &SiteState,
    site: &Site,
    protocol: &str,
    app_id: &str,
    ticket: &str,
) -> bool {
    let expected = format!("{}:{protocol}:{app_id}", site.tenant.id.0);
    state
        .site
        .secret
        .open_expiring(PURPOSE, ticket, Timestamp::now().0)
        .is_ok_and(|payload| payload == expected)
}

fn expired(site: &Site) -> Response {
    page(
        site,
        StatusCode::FORBIDDEN,
        "This test sign-in link cannot be used",
        "Test sign-in links work for ten minutes, for the app they were made for, on this \
         domain.",
        "Press Test sign-in on the app's Flight recorder page in the dashboard again.",
    )
}

/// The test relying party: signs the member in to the app's configuration and reports.
async fn oidc_test(
    State(state): State<SiteState>,
    visitor: Visitor,
    Path(client_id): Path<String>,
    Query(query): Query<TicketQuery>,
) -> Result<Response, SiteError> {
    let site = &visitor.site;
    if !ticket_opens(&state, site, "oidc", &client_id, &query.ticket) {
        return Ok(expired(site));
    }
    let Some(session) = visitor.session() else {
        let here = format!("/test-sign-in/oidc/{client_id}?ticket={}", query.ticket);
        let to = format!("/login?return_to={}", query_value(&here));
        return Ok(Redirect::to(&to).into_response());
    };
    let oidc = &state.site.oidc;
    let client = oidc.clients.get(site.tenant.id, &client_id).await?;
    let bound = client.settings.domain.as_deref();
    if !site.address.serves(bound) {
        let refusal = site.address.refusal(&client.name, bound);
        return Ok(page(
            site,
            StatusCode::OK,
            "The test sign-in runs on the app's domain",
            &format!("{refusal}."),
            "Press Test sign-in in the dashboard again: its link opens the app's domain.",
        ));
    }
    let member = &session.member;
    let subject = Subject {
        sub: member.subject.clone(),
        attributes: member.attributes.clone(),
    };
    let (tenant, now) = (site.tenant.id, Timestamp::now());
    let ran = oidc.grants.test_sign_in(
        tenant,
        &site.origin,
        &client,
        subject,
        session.created_at,
        now,
    );
    let report = match ran.await {
        Ok(report) => report,
        Err(OidcError::TestStopped(why)) => {
            return Ok(page(
                site,
                StatusCode::OK,
                "The test sign-in stopped",
                &format!("The app's sign-in could not finish: {why}."),
                "Check the app's settings in the dashboard, then test again.",
            ))
        }
        Err(error) => return Err(error.into()),
    };
    let pretty =
        |value: &serde_json::Value| serde_json::to_string_pretty(value).unwrap_or_default();
    let checks: Vec<ReportCheck<'_>> = report
        .checks
        .iter()
        .map(|check| ReportCheck {
            name: check.name,
            passed: check.passed,
            detail: &check.detail,
        })
        .collect();
    let intro = format!(
        "{} signed in to {} (client ID {}) with the app's own settings: the code flow with \
         PKCE, scope {}, signed with {}.",
        member.username,
        client.name,
        client.client_id,
        report.scope,
        client.settings.algorithm.as_str()
    );
    let sections = [
        ("ID token header", pretty(&report.id_token_header)),
        ("ID token claims", pretty(&report.id_token_claims)),
        ("UserInfo", pretty(&report.userinfo)),
    ];
    let heading = format!("Test sign-in: {}", client.name);
    Ok(pages::test_report(&site.branding, &heading, &intro, &checks, &sections).into_response())
}

/// The test service provider's start: the app's sign-in, answered to the test's own address.
async fn saml_test(
    State(state): State<SiteState>,
    visitor: Visitor,
    Path(app_id): Path<String>,
    Query(query): Query<TicketQuery>,
) -> Response {
    let site = &visitor.site;
    if !ticket_opens(&state, site, "saml", &app_id, &query.ticket) {
        return expired(site);
    }
    let idp = idp(&site.tenant, &site.origin, &site.address);
    let acs = test_acs_url(&site.origin);
    let received = state
        .site
        .saml
        .start_test(&idp, &app_id, &acs, Timestamp::now())
        .await;
    answer_received(&state, &visitor, &idp, received).await
}

#[derive(Deserialize)]
struct AcsForm {
    #[serde(rename = "SAMLResponse")]
    response: String,
    #[serde(rename = "RelayState")]
    relay_state: Option<String>,
}

/// The test service provider's assertion consumer service: checks the response as a service
/// provider would and shows what it says. It reads only responses signed by this tenant's
/// IdP and addressed here.
async fn saml_acs(
    State(state): State<SiteState>,
    visitor: Visitor,
    form: Result<Form<AcsForm>, FormRejection>,
) -> Result<Response, SiteError> {
    let site = &visitor.site;
    let unreadable = |why: &str| {
        page(
            site,
            StatusCode::BAD_REQUEST,
            "The test service provider cannot read this",
            why,
            "Start the test sign-in again from the dashboard.",
        )
    };
    let Ok(Form(form)) = form else {
        return Ok(unreadable("No SAML response arrived."));
    };
    let Ok(xml) = decode_post(&form.response) else {
        return Ok(unreadable("The SAML response is not readable."));
    };
    let (saml, now) = (&state.site.saml, Timestamp::now());
    // The test's RelayState names its request and app; only this tenant's apps are looked up,
    // and the checks compare them with the verified response.
    let relay_state = form.relay_state.unwrap_or_default();
    let Some((request_id, app_id)) = relay_state
        .split_once(' ')
        .filter(|(id, _)| id.starts_with("_test-"))
    else {
        return Ok(unreadable("The response does not answer a test sign-in."));
    };
    let Ok(app) = saml.apps.get(site.tenant.id, app_id).await else {
        return Ok(unreadable("The response does not answer a test sign-in."));
    };
    let idp = idp(&site.tenant, &site.origin, &site.address);
    let checked =
        saml.check_test_response(xml, idp, app.entity_id.clone(), request_id.to_string(), now);
    let Some(report) = checked.await? else {
        return Ok(unreadable(
            "The server is too busy to check signatures: try again.",
        ));
    };
    let checks: Vec<ReportCheck<'_>> = report
        .checks
        .iter()
        .map(|check| ReportCheck {
            name: check.name,
            passed: check.passed,
            detail: &check.detail,
        })
        .collect();
    let facts = &report.facts;
    let attributes = facts
        .attributes
        .iter()
        .map(|(name, values)| format!("{name} = {}", values.join(", ")))
        .collect::<Vec<_>>()
        .join("\n");
    let name_id = format!(
        "{}\n(format {})",
        facts.name_id.as_deref().unwrap_or("(encrypted or none)"),
        facts.name_id_format.as_deref().unwrap_or("none")
    );
    let intro = format!(
        "A sign-in to {} (entity ID {}) with the app's own settings, answered to the test \
         service provider on this domain instead of the app's assertion consumer service.",
        app.name, app.entity_id
    );
    let sections = [("NameID", name_id), ("Attributes", attributes)];
    let heading = format!("Test sign-in: {}", app.name);
    Ok(pages::test_report(&site.branding, &heading, &intro, &checks, &sections).into_response())
}

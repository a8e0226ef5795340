//! What a tenant's domain serves: the hosted, branded member pages, the OpenID Connect
//! provider and the SAML IdP, on one router per scheme.
//!
//! Every page here works without JavaScript and sends none (the SAML POST page runs one script
//! of ours). Errors a member can hit get a branded page saying what happened and what to try;
//! the technical cause goes to the sign-in events tenant admins read in the dashboard, never to
//! the member.
//!
//! The modules depend one way: `hosted`, `oidc` and `saml` use `site` (the request's tenant,
//! member and shared responses), `audit` and `pages`; `hosted` also uses `saml` (a sign-out
//! tells the member's SAML service providers). Nothing here depends on the router in this file.

mod audit;
mod hosted;
mod oidc;
mod pages;
mod password_reset;
mod recording;
mod saml;
mod site;
mod test_sign_in;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderValue};
use axum::Router;
use tower_http::set_header::SetResponseHeaderLayer;

pub(crate) use pages::query_value;
pub(crate) use site::request_host;
pub use site::{MemberSite, RecentTenants, SiteAddresses, TestDomains};
use site::{Scheme, SiteState};

/// The member site for tenant domains over HTTPS.
pub fn https_router(site: MemberSite) -> Router {
    router(site, Scheme::Https)
}

/// The member site for test domains over plain HTTP.
pub fn test_domain_router(site: MemberSite) -> Router {
    router(site, Scheme::Http)
}

/// The largest request body the member site reads; larger ones get `413`.
pub const MEMBER_SITE_BODY_LIMIT: usize = 64 * 1024;

fn router(site: MemberSite, scheme: Scheme) -> Router {
    let state = SiteState { site, scheme };
    let router = Router::new()
        .merge(hosted::routes())
        .merge(password_reset::routes())
        .merge(oidc::routes())
        .merge(saml::routes())
        .merge(test_sign_in::routes())
        .fallback(hosted::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            oidc::cors,
        ))
        .with_state(state)
        // The edge dispatches by host before this router matches a route: hand the route back
        // for the request metrics.
        .layer(axum::middleware::from_fn(crate::operator::report_route))
        // Every form a member's browser or an application sends here is a few kilobytes.
        .layer(DefaultBodyLimit::max(MEMBER_SITE_BODY_LIMIT))
        // The SAML POST page sets its own policy, which also lets its one script run.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                // No form-action: after a sign-in or consent form the answer continues to
                // the application's redirect URI, and browsers apply form-action to redirects.
                "default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; \
                 base-uri 'none'",
            ),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ));
    crate::security_headers::common(router, scheme == Scheme::Https)
}

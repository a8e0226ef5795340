#![recursion_limit = "256"]
//! The Cloud Dashboard: staff sign-in and, per tenant ("Cloud ID"), the Cloud SSO pages.
//!
//! Rendered on the server (every page works before the WebAssembly arrives) and hydrated in the
//! browser. Server functions in [`api`] are thin: they establish the caller, validate, and make
//! one call into the engine crates.

pub mod api;
pub mod error;
mod layout;
mod pages;
#[cfg(feature = "ssr")]
pub mod ssr;
pub mod templates;
pub mod views;
mod webauthn;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;
use leptos_router::SsrMode;

/// The HTML document around the app, rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    ssr::content_security_policy();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                // Named after the build's content (scripts/build-frontend), as the script is.
                <link rel="stylesheet" href=format!("/pkg/{}.css", options.output_name)/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// Every page is sent whole once its data are loaded: nothing streams in behind a "Loading…"
/// that only the WebAssembly would replace, so pages read (and their forms work) without it.
const ASYNC: SsrMode = SsrMode::Async;

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // All page data are blocking resources: the server resolves the session and the page's data
    // before it sends the head, so redirects and error statuses are real HTTP, and pages are
    // whole without JavaScript. Pages create their resources at the top of the page component,
    // never inside a `Suspend`, where a fetcher could outlive its owner and lose the request.
    view! {
        <Title formatter=|page: String| format!("{page} · Vestibule")/>
        <Router>
            <Routes fallback=pages::NotFound>
                <Route path=path!("/") view=pages::Home ssr=ASYNC/>
                <Route path=path!("/login") view=pages::SignIn ssr=ASYNC/>
                <Route path=path!("/setup") view=pages::Setup ssr=ASYNC/>
                <Route path=path!("/forgot-password") view=pages::ForgotPassword ssr=ASYNC/>
                <Route path=path!("/login/verify") view=pages::VerifySignIn ssr=ASYNC/>
                <Route path=path!("/account") view=pages::Account ssr=ASYNC/>
                <Route path=path!("/tenants") view=pages::Tenants ssr=ASYNC/>
                <Route path=path!("/t/:cloud_id/domain") view=pages::DomainSetup ssr=ASYNC/>
                <Route path=path!("/t/:cloud_id/settings") view=pages::Settings ssr=ASYNC/>
                <Route path=path!("/t/:cloud_id/branding") view=pages::Branding ssr=ASYNC/>
                <Route path=path!("/t/:cloud_id/oidc") view=pages::OidcApps ssr=ASYNC/>
                <Route path=path!("/t/:cloud_id/oidc/:client_id") view=pages::OidcAppEdit ssr=ASYNC/>
                <Route path=path!("/t/:cloud_id/oidc/:client_id/vendor") view=pages::OidcVendorSheet ssr=ASYNC/>
                <Route path=path!("/t/:cloud_id/oidc/:client_id/recorder") view=pages::OidcRecorder ssr=ASYNC/>
                <Route path=path!("/t/:cloud_id/oidc/:client_id/recorder/:exchange") view=pages::OidcExchange ssr=ASYNC/>
                <Route path=path!("/t/:cloud_id/saml") view=pages::SamlApps ssr=ASYNC/>
                <Route path=path!("/t/:cloud_id/saml/:app_id") view=pages::SamlAppEdit ssr=ASYNC/>
                <Route path=path!("/t/:cloud_id/saml/:app_id/vendor") view=pages::SamlVendorSheet ssr=ASYNC/>
                <Route path=path!("/t/:cloud_id/saml/:app_id/recorder") view=pages::SamlRecorder ssr=ASYNC/>
                <Route path=path!("/t/:cloud_id/saml/:app_id/recorder/:exchange") view=pages::SamlExchange ssr=ASYNC/>
                <Route path=path!("/t/:cloud_id/members") view=pages::Members ssr=ASYNC/>
                <Route path=path!("/t/:cloud_id/audit") view=pages::AuditLog ssr=ASYNC/>
                <Route path=path!("/t/:cloud_id/team") view=pages::Team ssr=ASYNC/>
            </Routes>
        </Router>
    }
}

#![recursion_limit = "256"]
//! The Cloud Dashboard: staff sign-in and, per tenant ("Cloud ID"), the Cloud SSO pages.
//!
//! Rendered on the server (every page works before the WebAssembly arrives) and hydrated in the
//! browser. Server functions in [`api`] are thin: they establish the caller, validate, and make
//! one call into the engine crates.

pub mod api;
mod layout;
mod pages;
#[cfg(feature = "ssr")]
pub mod ssr;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::{path, SsrMode};

/// The HTML document around the app, rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
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

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Every route renders in `SsrMode::Async`: the server waits for the session lookup before
    // sending headers, so redirects are real HTTP redirects and pages are whole without JavaScript.
    view! {
        <Stylesheet id="leptos" href="/pkg/vestibule.css"/>
        <Title formatter=|page: String| format!("{page} · Vestibule")/>
        <Router>
            <Routes fallback=pages::NotFound>
                <Route path=path!("/") view=pages::Home ssr=SsrMode::Async/>
                <Route path=path!("/login") view=pages::SignIn ssr=SsrMode::Async/>
                <Route path=path!("/setup") view=pages::Setup ssr=SsrMode::Async/>
                <Route path=path!("/tenants") view=pages::Tenants ssr=SsrMode::Async/>
                <ParentRoute path=path!("/t/:cloud_id") view=layout::TenantLayout ssr=SsrMode::Async>
                    <Route path=path!("domain") view=pages::DomainSetup ssr=SsrMode::Async/>
                    <Route path=path!("settings") view=pages::Settings ssr=SsrMode::Async/>
                    <Route path=path!("oidc") view=pages::OidcApps ssr=SsrMode::Async/>
                    <Route path=path!("saml") view=pages::SamlApps ssr=SsrMode::Async/>
                    <Route path=path!("team") view=pages::Team ssr=SsrMode::Async/>
                </ParentRoute>
            </Routes>
        </Router>
    }
}

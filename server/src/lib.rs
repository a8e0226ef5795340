#![recursion_limit = "256"]
//! The `vestibule` server: configuration, wiring and the HTTP edge of the Cloud Dashboard.

pub mod cli;
pub mod config;
mod edge;
pub mod tenant_edge;

use std::sync::Arc;

use app::ssr::DashboardState;
use app::{shell, App};
use axum::Router;
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, LeptosRoutes};
use vestibule_provisioning::Provisioning;
use vestibule_settings::TenantSettings;
use vestibule_staff::{PasswordHasher, StaffAccounts};
use vestibule_storage::Store;

pub use config::Config;

/// Builds the dashboard's router. Tests drive it with `oneshot`; `serve` puts it on a socket.
pub fn dashboard_router(
    config: &Config,
    accounts: StaffAccounts,
    provisioning: Provisioning,
    settings: TenantSettings,
) -> Router {
    let options = leptos_options(config);
    let state = DashboardState {
        accounts,
        provisioning,
        settings,
        public_url: config.public_origin().to_string(),
    };
    let routes = generate_route_list(App);
    let router = Router::new()
        .leptos_routes_with_context(
            &options,
            routes,
            {
                let state = state.clone();
                move || provide_context(state.clone())
            },
            {
                let options = options.clone();
                move || shell(options.clone())
            },
        )
        .route("/healthz", axum::routing::get(|| async { "ok" }))
        .fallback(leptos_axum::file_and_error_handler(shell))
        .with_state(options);
    edge::harden(
        router,
        Arc::from(config.public_origin()),
        state.secure_cookies(),
    )
}

/// The account engine with production password hashing.
pub fn staff_accounts(config: &Config, store: Store) -> StaffAccounts {
    StaffAccounts::new(store, PasswordHasher::default(), config.staff_policy())
}

fn leptos_options(config: &Config) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name("vestibule")
        .site_root(config.site_root.to_string_lossy().to_string())
        .site_pkg_dir("pkg")
        .site_addr(config.listen)
        .build()
}

//! The audit log as CSV, for a tenant's admins (and operators): the same filters as the Audit
//! log page. A plain GET with the session cookie, so the browser downloads it as a file.

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use vestibule_audit::to_csv;
use vestibule_staff::StaffError;

use crate::Engines;

#[derive(Clone)]
struct ExportState {
    engines: Engines,
    session_cookie: &'static str,
}

/// The page's filters; empty ones filter nothing.
#[derive(Debug, Default, Deserialize)]
struct AuditQuery {
    #[serde(default)]
    action: String,
    #[serde(default)]
    actor: String,
    /// The first day, `YYYY-MM-DD` (UTC).
    #[serde(default)]
    from: String,
    /// The last day, included.
    #[serde(default)]
    to: String,
}

pub fn router(engines: Engines, session_cookie: &'static str) -> Router {
    Router::new()
        .route("/t/{cloud_id}/audit.csv", get(export))
        .with_state(ExportState {
            engines,
            session_cookie,
        })
}

async fn export(
    State(state): State<ExportState>,
    Path(cloud_id): Path<String>,
    Query(query): Query<AuditQuery>,
    headers: HeaderMap,
) -> Response {
    let accounts = &state.engines.accounts;
    let tenant =
        match super::staff_for_tenant(accounts, &headers, state.session_cookie, &cloud_id).await {
            Ok(Some((_, tenant))) => tenant,
            Ok(None) => return Redirect::to("/login").into_response(),
            Err(error) => return staff_error(&error),
        };
    let filter = vestibule_audit::filter(&query.action, &query.actor);
    let filter = match vestibule_audit::with_dates(filter, &query.from, &query.to) {
        Ok(filter) => filter,
        Err(error) => return (StatusCode::BAD_REQUEST, error.to_string()).into_response(),
    };
    match state.engines.audit.search(tenant.id, &filter).await {
        Ok(events) => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{}-audit-log.csv\"", tenant.cloud_id),
                ),
                (header::CACHE_CONTROL, "no-store".to_string()),
            ],
            to_csv(&events),
        )
            .into_response(),
        Err(error) => {
            tracing::error!(%error, "reading the audit log failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "The audit log could not be read.",
            )
                .into_response()
        }
    }
}

fn staff_error(error: &StaffError) -> Response {
    match error {
        StaffError::Forbidden => {
            (StatusCode::FORBIDDEN, "You may not see this Cloud ID.").into_response()
        }
        StaffError::NotFound => (StatusCode::NOT_FOUND, "No such Cloud ID.").into_response(),
        StaffError::SecondFactorSetupNeeded => {
            (StatusCode::FORBIDDEN, error.to_string()).into_response()
        }
        error => {
            tracing::error!(%error, "audit export failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong.").into_response()
        }
    }
}

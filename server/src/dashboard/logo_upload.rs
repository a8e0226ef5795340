//! The Branding page's logo: the upload is a plain multipart form, so it works without
//! JavaScript (server functions speak URL-encoded forms; a file needs `multipart/form-data`,
//! so this one form posts here and comes back to the Branding page saying how it went); and
//! the logo itself for the page's preview, from the dashboard's own origin (its
//! Content-Security-Policy loads images from nowhere else).

use axum::extract::multipart::Multipart;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use axum::Router;
use vestibule_domain::Timestamp;
use vestibule_members::{MembersError, MAX_LOGO_BYTES};
use vestibule_staff::StaffError;

use crate::member_site::query_value;
use crate::Engines;

#[derive(Clone)]
struct UploadState {
    engines: Engines,
    session_cookie: &'static str,
}

pub fn router(engines: Engines, session_cookie: &'static str) -> Router {
    Router::new()
        .route("/t/{cloud_id}/settings/logo", post(upload).get(current))
        // Room for the image and the form's other parts; anything larger is refused unread.
        .layer(DefaultBodyLimit::max(MAX_LOGO_BYTES + 16 * 1024))
        .with_state(UploadState {
            engines,
            session_cookie,
        })
}

async fn upload(
    State(state): State<UploadState>,
    Path(cloud_id): Path<String>,
    headers: HeaderMap,
    form: Multipart,
) -> Response {
    let accounts = &state.engines.accounts;
    let now = Timestamp::now();
    let caller = super::signed_in_staff(accounts, &headers, state.session_cookie).await;
    let caller = match caller {
        Ok(Some(caller)) => caller,
        Ok(None) => return Redirect::to("/login").into_response(),
        Err(error) => return staff_error(&error),
    };
    let back = |outcome: &str| Redirect::to(&format!("/t/{cloud_id}/branding?{outcome}"));
    let (csrf, image) = match read_form(form).await {
        Ok(read) => read,
        Err(problem) => {
            return back(&format!("logo_error={}", query_value(&problem))).into_response()
        }
    };
    if let Err(error) = caller.check_csrf(&csrf) {
        return staff_error(&error);
    }
    let tenant = match accounts.tenant_to_change(&caller, &cloud_id).await {
        Ok(tenant) => tenant,
        Err(error) => return staff_error(&error),
    };
    match save(&state, &caller, tenant.id, image, now).await {
        Ok(()) => back("logo=saved").into_response(),
        Err(MembersError::Invalid(invalid)) => {
            back(&format!("logo_error={}", query_value(&invalid.message))).into_response()
        }
        Err(error) => {
            tracing::error!(%error, "saving a logo failed");
            let status = StatusCode::INTERNAL_SERVER_ERROR;
            (status, "The logo could not be saved.").into_response()
        }
    }
}

/// The tenant's logo, to the staff who may see the tenant; never cached, as it changes under
/// the same address.
async fn current(
    State(state): State<UploadState>,
    Path(cloud_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let accounts = &state.engines.accounts;
    let tenant =
        match super::staff_for_tenant(accounts, &headers, state.session_cookie, &cloud_id).await {
            Ok(Some((_, tenant))) => tenant,
            Ok(None) => return (StatusCode::UNAUTHORIZED, "Please sign in.").into_response(),
            Err(error) => return staff_error(&error),
        };
    match state.engines.members.logo(tenant.id).await {
        Ok(Some(logo)) => (
            [
                (axum::http::header::CONTENT_TYPE, logo.content_type),
                (axum::http::header::CACHE_CONTROL, "no-store".to_string()),
                (
                    axum::http::header::X_CONTENT_TYPE_OPTIONS,
                    "nosniff".to_string(),
                ),
            ],
            logo.data,
        )
            .into_response(),
        Ok(None) => (StatusCode::NOT_FOUND, "No logo.").into_response(),
        Err(error) => {
            tracing::error!(%error, "reading a logo failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong.").into_response()
        }
    }
}

/// The form's CSRF token and image, or what to tell the admin about an upload that did not
/// arrive whole (or was too large to read).
async fn read_form(mut form: Multipart) -> Result<(String, Vec<u8>), String> {
    let too_large = || {
        format!(
            "The logo is larger than {} KB. Save it smaller and upload it again.",
            MAX_LOGO_BYTES / 1024
        )
    };
    let (mut csrf, mut image) = (String::new(), Vec::new());
    loop {
        let field = form.next_field().await.map_err(|_| {
            format!(
                "The upload did not arrive whole, or is larger than {} KB.",
                MAX_LOGO_BYTES / 1024
            )
        })?;
        let Some(field) = field else {
            return Ok((csrf, image));
        };
        match field.name() {
            Some("csrf") => csrf = field.text().await.unwrap_or_default(),
            Some("logo") => image = field.bytes().await.map_err(|_| too_large())?.to_vec(),
            _ => {}
        }
    }
}

/// Saves the logo and, when it was saved, records the change in the audit log.
async fn save(
    state: &UploadState,
    caller: &vestibule_staff::CurrentStaff,
    tenant: vestibule_domain::TenantId,
    image: Vec<u8>,
    now: Timestamp,
) -> Result<(), MembersError> {
    state.engines.members.set_logo(tenant, image, now).await?;
    let change = vestibule_audit::Change {
        tenant: Some(tenant),
        actor: caller.staff.email.as_str(),
        action: vestibule_audit::AuditAction::BrandingUploadLogo,
        target: "Logo".to_string(),
        before: None,
        after: Some(serde_json::json!({ "logo": true })),
    };
    state.engines.audit.record_after(change, now).await;
    Ok(())
}

fn staff_error(error: &StaffError) -> Response {
    match error {
        StaffError::Forbidden | StaffError::CsrfMismatch => {
            (StatusCode::FORBIDDEN, "You may not change this Cloud ID.").into_response()
        }
        StaffError::NotFound => (StatusCode::NOT_FOUND, "No such Cloud ID.").into_response(),
        StaffError::SecondFactorSetupNeeded | StaffError::ReadOnly => {
            (StatusCode::FORBIDDEN, error.to_string()).into_response()
        }
        error => {
            tracing::error!(%error, "logo upload failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong.").into_response()
        }
    }
}

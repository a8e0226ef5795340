//! The dashboard's routes that are not Leptos pages: the front-end's files, the logo upload (a multipart form), the
//! audit log's CSV download, and the hardening every dashboard response passes through.

pub(crate) mod assets;
pub(crate) mod audit_export;
pub(crate) mod harden;
pub(crate) mod logo_upload;

use axum::http::HeaderMap;
use vestibule_domain::{Tenant, Timestamp};
use vestibule_staff::{CurrentStaff, StaffAccounts, StaffError};

/// The staff member a plain (non-Leptos) dashboard route is called by, from the session
/// cookie named `cookie`: `None` when nobody is signed in.
pub(crate) async fn signed_in_staff(
    accounts: &StaffAccounts,
    headers: &HeaderMap,
    cookie: &str,
) -> Result<Option<CurrentStaff>, StaffError> {
    let Some(token) = crate::cookies::read(headers, cookie) else {
        return Ok(None);
    };
    let caller = accounts.authenticate(&token, Timestamp::now()).await?;
    if let Some(caller) = &caller {
        caller.require_second_factor_in_place()?;
    }
    Ok(caller)
}

/// The signed-in staff member and the tenant `cloud_id` names, when they may see it: `None`
/// when nobody is signed in; [`StaffError::Forbidden`] or [`StaffError::NotFound`] otherwise.
pub(crate) async fn staff_for_tenant(
    accounts: &StaffAccounts,
    headers: &HeaderMap,
    cookie: &str,
    cloud_id: &str,
) -> Result<Option<(CurrentStaff, Tenant)>, StaffError> {
    let Some(caller) = signed_in_staff(accounts, headers, cookie).await? else {
        return Ok(None);
    };
    let tenant = accounts.tenant_to_read(&caller, cloud_id).await?;
    Ok(Some((caller, tenant)))
}

//! Members: the built-in directory, sign-in events, and the logo.

use leptos::prelude::*;

#[cfg(feature = "ssr")]
use super::form::confirmed;
#[cfg(feature = "ssr")]
use crate::ssr;

use crate::error::AppError;
use crate::views::*;

#[server(prefix = "/api", endpoint = "members")]
pub async fn tenant_members(
    cloud_id: String,
    search: Option<String>,
) -> Result<MembersPageView, AppError> {
    ssr::respond(
        async {
            let caller = ssr::caller().await?;
            let tenant = ssr::accounts()?.tenant_to_read(&caller, &cloud_id).await?;
            let members = ssr::members()?;
            let directory = members.directory(tenant.id).await?;
            let directory = directory.into_iter().map(directory_member_view).collect();
            let events = members
                .sign_in_events(tenant.id, search.as_deref(), 50)
                .await?;
            let events = events.into_iter().map(sign_in_event_view).collect();
            Ok(MembersPageView {
                identity_source: members
                    .identity_source(tenant.id)
                    .await?
                    .as_str()
                    .to_string(),
                site_url: ssr::member_site(&tenant).await?,
                directory,
                events,
            })
        }
        .await,
    )
}

/// Adds a member to the tenant's member directory.
#[server(prefix = "/api", endpoint = "add_member")]
pub async fn add_member(
    csrf: String,
    cloud_id: String,
    #[server(flatten)] form: NewMemberForm,
) -> Result<String, AppError> {
    ssr::respond(
        async {
            let caller = ssr::caller_for_change(&csrf).await?;
            let tenant = ssr::accounts()?
                .tenant_to_change(&caller, &cloud_id)
                .await?;
            let added = ssr::members()?
                .add_directory_member(
                    tenant.id,
                    vestibule_members::NewDirectoryMember {
                        username: form.username,
                        email: form.email,
                        given_name: form.given_name,
                        family_name: form.family_name,
                        password: form.password,
                    },
                    ssr::now(),
                )
                .await?;
            let after = serde_json::json!({
                "username": added.username,
                "email": added.email,
                "given_name": added.given_name,
                "family_name": added.family_name,
            });
            ssr::record_change(
                &caller,
                Some(tenant.id),
                vestibule_audit::AuditAction::MemberAdd,
                added.username.clone(),
                None,
                Some(&after),
            )
            .await;
            Ok(added.username)
        }
        .await,
    )
}

/// Sets a new password for a directory member.
#[server(prefix = "/api", endpoint = "set_member_password")]
pub async fn set_member_password(
    csrf: String,
    cloud_id: String,
    id: i64,
    password: String,
) -> Result<(), AppError> {
    ssr::respond(
        async {
            let caller = ssr::caller_for_change(&csrf).await?;
            let tenant = ssr::accounts()?
                .tenant_to_change(&caller, &cloud_id)
                .await?;
            let members = ssr::members()?;
            members
                .set_directory_password(tenant.id, id, &password, ssr::now())
                .await?;
            let target = member_target(&members, tenant.id, id)
                .await?
                .unwrap_or_else(|| format!("member #{id}"));
            let after = serde_json::json!({ "password": "set" });
            ssr::record_change(
                &caller,
                Some(tenant.id),
                vestibule_audit::AuditAction::MemberSetPassword,
                target,
                None,
                Some(&after),
            )
            .await;
            Ok(())
        }
        .await,
    )
}

/// Removes a directory member, ends their sessions and revokes their tokens.
#[server(prefix = "/api", endpoint = "remove_member")]
pub async fn remove_member(
    csrf: String,
    cloud_id: String,
    id: i64,
    #[server(default)] confirm: String,
) -> Result<(), AppError> {
    ssr::respond(
        async {
            let caller = ssr::caller_for_change(&csrf).await?;
            let tenant = ssr::accounts()?
                .tenant_to_change(&caller, &cloud_id)
                .await?;
            let members = ssr::members()?;
            let target = member_target(&members, tenant.id, id).await?;
            // Another Cloud ID's member, or none: the engine answers "not found" below.
            if let Some(username) = &target {
                confirmed(&confirm, username, "remove this member")?;
            }
            let target = target.unwrap_or_else(|| format!("member #{id}"));
            members
                .remove_directory_member(tenant.id, id, ssr::now())
                .await?;
            let before = serde_json::json!({ "username": target });
            ssr::record_change(
                &caller,
                Some(tenant.id),
                vestibule_audit::AuditAction::MemberRemove,
                target,
                Some(&before),
                None,
            )
            .await;
            Ok(())
        }
        .await,
    )
}

/// Removes the logo from the hosted pages.
/// A directory member's username (for the confirmation and the audit log), if the tenant has
/// this member.
#[cfg(feature = "ssr")]
async fn member_target(
    members: &vestibule_members::Members,
    tenant: vestibule_domain::TenantId,
    id: i64,
) -> Result<Option<String>, AppError> {
    Ok(members
        .directory(tenant)
        .await?
        .into_iter()
        .find(|member| member.id == id)
        .map(|member| member.username))
}

#[server(prefix = "/api", endpoint = "remove_logo")]
pub async fn remove_logo(csrf: String, cloud_id: String) -> Result<(), AppError> {
    ssr::respond(
        async {
            let caller = ssr::caller_for_change(&csrf).await?;
            let tenant = ssr::accounts()?
                .tenant_to_change(&caller, &cloud_id)
                .await?;
            ssr::members()?.remove_logo(tenant.id).await?;
            let before = serde_json::json!({ "logo": true });
            ssr::record_change(
                &caller,
                Some(tenant.id),
                vestibule_audit::AuditAction::BrandingRemoveLogo,
                "Logo".to_string(),
                Some(&before),
                None,
            )
            .await;
            Ok(())
        }
        .await,
    )
}

#[cfg(feature = "ssr")]
fn directory_member_view(member: vestibule_members::DirectoryMember) -> DirectoryMemberView {
    DirectoryMemberView {
        id: member.id,
        name: format!("{} {}", member.given_name, member.family_name)
            .trim()
            .to_string(),
        username: member.username,
        email: member.email,
        created_at: member.created_at.to_string(),
    }
}

#[cfg(feature = "ssr")]
fn sign_in_event_view(event: vestibule_members::SignInEvent) -> SignInEventView {
    SignInEventView {
        at: event.at.to_string(),
        ok: vestibule_members::SignInOutcome::text_is_success(&event.outcome),
        source: if event.source == "imis" {
            "iMIS"
        } else {
            "Member directory"
        }
        .to_string(),
        member: event.member,
        application: event.application,
        outcome: event.outcome,
        detail: event.detail,
    }
}

//! OIDC Client Apps: registration, secrets, editing and the ID token preview.

use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::ssr;

#[cfg(feature = "ssr")]
use super::form::{confirmed, lines, minutes};
use crate::error::AppError;
use crate::views::*;

#[server(prefix = "/api", endpoint = "oidc_apps")]
pub async fn oidc_apps(cloud_id: String) -> Result<OidcAppsView, AppError> {
    ssr::respond(
        async {
            let caller = ssr::caller().await?;
            let tenant = ssr::accounts()?.tenant_to_read(&caller, &cloud_id).await?;
            let clients = ssr::oidc_clients()?;
            let now = ssr::now();
            let mut apps = Vec::new();
            for client in clients.list(tenant.id).await? {
                let secrets = clients.secrets(&client, now).await?;
                apps.push(oidc_app_view(client, secrets));
            }
            // The primary comes first: the issuer the page shows.
            let domains = ssr::domain_names(&tenant).await?;
            Ok(OidcAppsView {
                issuer: ssr::site_origin(&tenant, domains.first().map(String::as_str))?,
                apps,
                domains,
            })
        }
        .await,
    )
}

/// Registers an OIDC client app. Checkboxes arrive only when ticked.
#[server(prefix = "/api", endpoint = "create_oidc_app")]
pub async fn create_oidc_app(
    csrf: String,
    cloud_id: String,
    #[server(flatten)] form: OidcAppForm,
) -> Result<ShownOnceView, AppError> {
    ssr::respond(
        async {
            ssr::answer_needs_script("the new client secret once")?;
            let caller = ssr::caller_for_change(&csrf).await?;
            let tenant = ssr::accounts()?
                .tenant_to_change(&caller, &cloud_id)
                .await?;
            let (client, shown) = ssr::oidc_clients()?
                .create(tenant.id, new_client_input(form), ssr::now())
                .await?;
            let after = oidc_edit_view(client.clone());
            ssr::record_change(
                &caller,
                Some(tenant.id),
                vestibule_audit::AuditAction::OidcAppCreate,
                oidc_target(&after),
                None,
                Some(&after),
            )
            .await;
            Ok(ShownOnceView {
                client_id: client.client_id,
                client_secret: shown.client_secret,
            })
        }
        .await,
    )
}

/// A new client secret; the current ones keep working for `overlap_hours`.
#[server(prefix = "/api", endpoint = "rotate_oidc_secret")]
pub async fn rotate_oidc_secret(
    csrf: String,
    cloud_id: String,
    client_id: String,
    overlap_hours: i64,
) -> Result<ShownOnceView, AppError> {
    ssr::respond(
        async {
            ssr::answer_needs_script("the new client secret once")?;
            let caller = ssr::caller_for_change(&csrf).await?;
            let tenant = ssr::accounts()?
                .tenant_to_change(&caller, &cloud_id)
                .await?;
            if !(0..=24 * 30).contains(&overlap_hours) {
                return Err(AppError::Invalid(
                    "The overlap is 0 to 720 hours.".to_string(),
                ));
            }
            let clients = ssr::oidc_clients()?;
            let secret = clients
                .rotate_secret(
                    tenant.id,
                    &client_id,
                    vestibule_domain::Seconds::hours(overlap_hours),
                    ssr::now(),
                )
                .await?;
            // What changed is a secret: the log says that it was rotated, and the overlap.
            let view = oidc_edit_view(clients.get(tenant.id, &client_id).await?);
            let after = serde_json::json!({ "overlap_hours": overlap_hours });
            ssr::record_change(
                &caller,
                Some(tenant.id),
                vestibule_audit::AuditAction::OidcAppRotateSecret,
                oidc_target(&view),
                None,
                Some(&after),
            )
            .await;
            Ok(ShownOnceView {
                client_id,
                client_secret: Some(secret),
            })
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "delete_oidc_app")]
pub async fn delete_oidc_app(
    csrf: String,
    cloud_id: String,
    client_id: String,
    #[server(default)] confirm: String,
) -> Result<(), AppError> {
    ssr::respond(
        async {
            let caller = ssr::caller_for_change(&csrf).await?;
            let tenant = ssr::accounts()?
                .tenant_to_change(&caller, &cloud_id)
                .await?;
            let clients = ssr::oidc_clients()?;
            let before = oidc_edit_view(clients.get(tenant.id, &client_id).await?);
            confirmed(&confirm, &before.name, "delete this app")?;
            clients.delete(tenant.id, &client_id).await?;
            ssr::forget_recorded(tenant.id, vestibule_recorder::AppRef::oidc(&client_id)).await;
            ssr::record_change(
                &caller,
                Some(tenant.id),
                vestibule_audit::AuditAction::OidcAppDelete,
                oidc_target(&before),
                Some(&before),
                None,
            )
            .await;
            Ok(())
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "oidc_app")]
pub async fn oidc_app(cloud_id: String, client_id: String) -> Result<OidcAppEditView, AppError> {
    ssr::respond(
        async {
            let caller = ssr::caller().await?;
            let tenant = ssr::accounts()?.tenant_to_read(&caller, &cloud_id).await?;
            let client = ssr::oidc_clients()?.get(tenant.id, &client_id).await?;
            Ok(OidcAppEditView {
                domains: ssr::domain_names(&tenant).await?,
                ..oidc_edit_view(client)
            })
        }
        .await,
    )
}

/// An app as its edit form shows it; also what the audit log records of it.
#[cfg(feature = "ssr")]
fn oidc_edit_view(client: vestibule_oidc::Client) -> OidcAppEditView {
    let settings = client.settings;
    OidcAppEditView {
        client_id: client.client_id,
        name: client.name,
        redirect_uris: settings.redirect_uris.join("\n"),
        post_logout_redirect_uris: settings.post_logout_redirect_uris.join("\n"),
        confidential: settings.confidential,
        require_pkce: settings.require_pkce,
        implicit: settings.allow_implicit,
        password: settings.allow_password,
        algorithm: settings.algorithm.as_str().to_string(),
        id_token_minutes: settings.id_token_seconds / 60,
        access_token_minutes: settings.access_token_seconds / 60,
        consent: settings.consent,
        consent_grace_days: settings.consent_grace_days,
        claims: settings
            .claims
            .iter()
            .map(|m| format!("{} = {}", m.claim, m.property))
            .collect::<Vec<_>>()
            .join("\n"),
        initiate_login_uri: settings.initiate_login_uri.unwrap_or_default(),
        domain: settings.domain.unwrap_or_default(),
        domains: Vec::new(),
    }
}

/// How an app is named in the audit log.
#[cfg(feature = "ssr")]
fn oidc_target(view: &OidcAppEditView) -> String {
    format!("{} ({})", view.name, view.client_id)
}

/// A new app from the Add form: the registration fields; the rest starts at the defaults.
#[cfg(feature = "ssr")]
fn new_client_input(form: OidcAppForm) -> vestibule_oidc::ClientInput {
    vestibule_oidc::ClientInput {
        name: form.name,
        redirect_uris: lines(&form.redirect_uris),
        post_logout_redirect_uris: lines(&form.post_logout_redirect_uris),
        confidential: form.public.is_none(),
        allow_implicit: form.implicit.is_some(),
        allow_password: form.password.is_some(),
        consent: form.consent.is_some(),
        algorithm: form.algorithm,
        domain: form.domain,
        ..vestibule_oidc::ClientInput::default()
    }
}

/// An app from the Edit form. Its type (confidential or public) stays as created.
#[cfg(feature = "ssr")]
fn edited_client_input(
    form: OidcAppForm,
    confidential: bool,
) -> Result<vestibule_oidc::ClientInput, AppError> {
    Ok(vestibule_oidc::ClientInput {
        name: form.name,
        redirect_uris: lines(&form.redirect_uris),
        post_logout_redirect_uris: lines(&form.post_logout_redirect_uris),
        confidential,
        require_pkce: form.require_pkce.is_some(),
        allow_implicit: form.implicit.is_some(),
        allow_password: form.password.is_some(),
        algorithm: form.algorithm,
        id_token_minutes: minutes("ID token lifetime", &form.id_token_minutes)?,
        access_token_minutes: minutes("Access token lifetime", &form.access_token_minutes)?,
        consent: form.consent.is_some(),
        consent_grace_days: minutes("Consent remembered for", &form.consent_grace_days)?,
        claims: claim_mappings(&form.claims)?,
        initiate_login_uri: form.initiate_login_uri,
        domain: form.domain,
    })
}

/// `claim = Property` lines; blank lines are skipped.
#[cfg(feature = "ssr")]
fn claim_mappings(text: &str) -> Result<Vec<vestibule_oidc::ClaimMapping>, AppError> {
    vestibule_oidc::ClaimMapping::parse_lines(text)
        .map_err(|invalid| AppError::Invalid(invalid.to_string()))
}

/// Saves an edited app. The app's type (confidential or public) stays as created; switching to
/// HS512 issues a new client secret (ID tokens are signed with it), shown once.
#[server(prefix = "/api", endpoint = "update_oidc_app")]
pub async fn update_oidc_app(
    csrf: String,
    cloud_id: String,
    client_id: String,
    #[server(flatten)] form: OidcAppForm,
) -> Result<ShownOnceView, AppError> {
    ssr::respond(
        async {
            let caller = ssr::caller_for_change(&csrf).await?;
            let tenant = ssr::accounts()?
                .tenant_to_change(&caller, &cloud_id)
                .await?;
            let clients = ssr::oidc_clients()?;
            let existing = clients.get(tenant.id, &client_id).await?;
            let before = oidc_edit_view(existing.clone());
            let input = edited_client_input(form, existing.settings.confidential)?;
            let (client, shown) = clients
                .update(tenant.id, &client_id, input, ssr::now())
                .await?;
            let after = oidc_edit_view(client.clone());
            ssr::record_change(
                &caller,
                Some(tenant.id),
                vestibule_audit::AuditAction::OidcAppUpdate,
                oidc_target(&after),
                Some(&before),
                Some(&after),
            )
            .await;
            Ok(ShownOnceView {
                client_id: client.client_id,
                client_secret: shown.client_secret,
            })
        }
        .await,
    )
}

/// The ID token the app would receive for a member now, as pretty JSON (unsigned): checks a
/// claim mapping against a real profile before a vendor sees it.
#[server(prefix = "/api", endpoint = "preview_oidc_id_token")]
pub async fn preview_oidc_id_token(
    csrf: String,
    cloud_id: String,
    client_id: String,
    username: String,
) -> Result<String, AppError> {
    ssr::respond(
        async {
            ssr::answer_needs_script("the previewed ID token")?;
            let caller = ssr::caller_for_change(&csrf).await?;
            let tenant = ssr::accounts()?.tenant_to_read(&caller, &cloud_id).await?;
            let client = ssr::oidc_clients()?.get(tenant.id, &client_id).await?;
            if username.trim().is_empty() {
                return Err(AppError::Invalid(
                    "Enter the username of a member to preview.".to_string(),
                ));
            }
            let member = ssr::members()?
                .find_member(tenant.id, &username)
                .await
                .map_err(|error| match error {
                    vestibule_members::MembersError::NotFound => AppError::Invalid(format!(
                        "There is no member {} in the member directory.",
                        username.trim()
                    )),
                    error @ (vestibule_members::MembersError::NotConfigured(_)
                    | vestibule_members::MembersError::ImisUnavailable(_)
                    | vestibule_members::MembersError::ProfileUnavailable(_)) => {
                        AppError::Conflict(format!("The member could not be read: {error}."))
                    }
                    error => error.into(),
                })?;
            let subject = vestibule_oidc::Subject {
                sub: member.subject,
                attributes: member.attributes,
            };
            let issuer = ssr::app_site(&tenant, client.settings.domain.as_deref())
                .await?
                .unwrap_or_else(|| "https://<your SSO domain>".to_string());
            let claims = vestibule_oidc::preview_id_token(&issuer, &client, &subject, ssr::now());
            serde_json::to_string_pretty(&claims).map_err(|_| AppError::Internal)
        }
        .await,
    )
}

/// One app in the list: its flows in words, its secrets by age.
#[cfg(feature = "ssr")]
fn oidc_app_view(
    client: vestibule_oidc::Client,
    secrets: Vec<vestibule_oidc::SecretInfo>,
) -> OidcAppView {
    let settings = client.settings;
    let mut flows = vec!["Authorization code".to_string()];
    if settings.require_pkce {
        flows[0].push_str(" (PKCE required)");
    }
    if settings.allow_implicit {
        flows.push("Implicit".to_string());
    }
    if settings.allow_password {
        flows.push("Password (ROPC)".to_string());
    }
    OidcAppView {
        client_id: client.client_id,
        name: client.name,
        redirect_uris: settings.redirect_uris,
        post_logout_redirect_uris: settings.post_logout_redirect_uris,
        confidential: settings.confidential,
        flows,
        algorithm: settings.algorithm.as_str().to_string(),
        consent: settings.consent,
        domain: settings.domain,
        secrets: secrets
            .into_iter()
            .map(|s| SecretView {
                created_at: s.created_at.to_string(),
                expires_at: s.expires_at.map(|t| t.to_string()),
                last_used_at: s.last_used_at.map(|t| t.to_string()),
            })
            .collect(),
    }
}

/// The "Send to your vendor" sheet of one app: the provider's addresses, the client's
/// registration and what its tokens carry. The client secret is never on it.
#[server(prefix = "/api", endpoint = "oidc_vendor_sheet")]
pub async fn oidc_vendor_sheet(
    cloud_id: String,
    client_id: String,
) -> Result<VendorSheetView, AppError> {
    use super::vendor::{fact, sheet_text};
    ssr::respond(
        async {
            let caller = ssr::caller().await?;
            let tenant = ssr::accounts()?.tenant_to_read(&caller, &cloud_id).await?;
            let client = ssr::oidc_clients()?.get(tenant.id, &client_id).await?;
            let site = ssr::app_site(&tenant, client.settings.domain.as_deref()).await?;
            let app = oidc_edit_view(client);
            let back_href = format!("/t/{cloud_id}/oidc");
            let download_name = format!("{}-oidc.json", super::vendor::file_stem(&app.name));
            let Some(issuer) = site else {
                return Ok(VendorSheetView {
                    app_name: app.name,
                    protocol: "OpenID Connect".to_string(),
                    back_href,
                    facts: Vec::new(),
                    text: String::new(),
                    download_href: None,
                    download_name,
                });
            };
            let url = |path: &str| format!("{issuer}{path}");
            let claims: Vec<&str> = app
                .claims
                .lines()
                .filter_map(|line| line.split_once('=').map(|(claim, _)| claim.trim()))
                .collect();
            let mut grant_types = vec!["authorization_code"];
            if app.implicit {
                grant_types.push("implicit");
            }
            if app.password {
                grant_types.push("password");
            }
            let auth_method = if app.confidential {
                "client_secret_basic or client_secret_post (the client secret reaches you separately)"
            } else {
                "none: a public client, PKCE with S256 required"
            };
            let pkce = if app.confidential && !app.require_pkce {
                "accepted (S256), not required"
            } else {
                "required (S256)"
            };
            let mut facts = vec![
                fact("Issuer", issuer.clone()),
                fact("Discovery URL", url("/.well-known/openid-configuration")),
                fact("Authorization endpoint", url("/oidc/authorize")),
                fact("Token endpoint", url("/oidc/token")),
                fact("UserInfo endpoint", url("/oidc/userinfo")),
                fact("JWKS URL", url("/oidc/jwks")),
                fact("End-session (logout) endpoint", url("/oidc/logout")),
                fact("Client ID", app.client_id.clone()),
                fact("Client authentication", auth_method),
                fact("Redirect URIs we accept (exactly)", app.redirect_uris.clone()),
            ];
            if !app.post_logout_redirect_uris.is_empty() {
                facts.push(fact(
                    "Post-logout redirect URIs we accept",
                    app.post_logout_redirect_uris.clone(),
                ));
            }
            facts.extend([
                fact("Scopes", "openid profile"),
                fact("Grant types", grant_types.join(", ")),
                fact("PKCE", pkce),
                fact("ID token signature", app.algorithm.clone()),
                fact("Claims in the ID token and UserInfo", claims.join(", ")),
            ]);
            let heading = format!(
                "Single sign-on for {} (OpenID Connect), from {}",
                app.name, tenant.display_name
            );
            let json = serde_json::json!({
                "issuer": issuer,
                "discovery_url": url("/.well-known/openid-configuration"),
                "authorization_endpoint": url("/oidc/authorize"),
                "token_endpoint": url("/oidc/token"),
                "userinfo_endpoint": url("/oidc/userinfo"),
                "jwks_uri": url("/oidc/jwks"),
                "end_session_endpoint": url("/oidc/logout"),
                "client_id": app.client_id,
                "client_name": app.name,
                "token_endpoint_auth_method":
                    if app.confidential { "client_secret_basic" } else { "none" },
                "redirect_uris": app.redirect_uris.lines().collect::<Vec<_>>(),
                "post_logout_redirect_uris":
                    app.post_logout_redirect_uris.lines().collect::<Vec<_>>(),
                "scope": "openid profile",
                "grant_types": grant_types,
                "code_challenge_method": "S256",
                "id_token_signed_response_alg": app.algorithm,
                "claims": claims,
            });
            let json = serde_json::to_string_pretty(&json).map_err(|_| AppError::Internal)?;
            Ok(VendorSheetView {
                text: sheet_text(&heading, &facts),
                app_name: app.name,
                protocol: "OpenID Connect".to_string(),
                back_href,
                facts,
                download_href: Some(format!(
                    "data:application/json;charset=utf-8,{}",
                    crate::pages::url_encode(&json)
                )),
                download_name,
            })
        }
        .await,
    )
}

//! SAML Client Apps: metadata import, the app form, and the IdP's own metadata.

use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::ssr;

#[cfg(feature = "ssr")]
use super::form::{confirmed, minutes};
use crate::error::AppError;
use crate::views::*;

#[cfg(feature = "ssr")]
fn pem(der: &[u8]) -> String {
    vestibule_saml::certificate_pem(der)
}

#[cfg(feature = "ssr")]
fn consumer_lines(consumers: &[vestibule_saml::AssertionConsumer]) -> String {
    let mut sorted = consumers.to_vec();
    sorted.sort_by_key(|acs| (!acs.is_default, acs.index));
    sorted
        .iter()
        .map(|acs| format!("{} {}", acs.index, acs.url))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The form as the engine takes it: every field checked there, the text shapes here.
#[cfg(feature = "ssr")]
fn saml_input(form: SamlAppForm) -> Result<vestibule_saml::SamlAppInput, AppError> {
    use vestibule_saml::{AssertionConsumer, AttributeMapping, NameIdFormat, SignedPartsSetting};
    let invalid = |invalid: vestibule_domain::InvalidInput| AppError::Invalid(invalid.to_string());
    let consumers = AssertionConsumer::parse_lines(&form.assertion_consumers).map_err(invalid)?;
    let attributes = AttributeMapping::parse_lines(&form.attributes).map_err(invalid)?;
    let name_id_format = NameIdFormat::from_form_key(&form.name_id_format).map_err(invalid)?;
    let signed = SignedPartsSetting::from_form_key(&form.signed).map_err(invalid)?;
    let single_logout = Some(form.single_logout.trim().to_string()).filter(|s| !s.is_empty());
    let single_logout_binding =
        vestibule_saml::LogoutBinding::from_form_key(&form.single_logout_binding)
            .map_err(invalid)?;
    let sp_certificate = Some(form.sp_certificate.trim().to_string()).filter(|s| !s.is_empty());
    let sp_encryption_certificate =
        Some(form.sp_encryption_certificate.trim().to_string()).filter(|s| !s.is_empty());
    Ok(vestibule_saml::SamlAppInput {
        name: form.name,
        entity_id: form.entity_id.trim().to_string(),
        assertion_consumers: consumers,
        single_logout,
        single_logout_binding,
        name_id_format,
        unspecified_is_imis_id: form.unspecified_is_imis_id.is_some(),
        sp_may_request_name_id_format: form.sp_may_request_name_id_format.is_some(),
        show_in_launcher: form.show_in_launcher.is_some(),
        attributes,
        signed,
        require_signed_requests: form.require_signed_requests.is_some(),
        sp_certificate,
        assertion_minutes: minutes("Assertion lifetime", &form.assertion_minutes)?,
        default_relay_state: form.default_relay_state.trim().to_string(),
        encrypt_assertions: form.encrypt_assertions.is_some(),
        sp_encryption_certificate,
        domain: form.domain,
    })
}

/// The app as its form shows it: what the audit log records of every edit.
#[cfg(feature = "ssr")]
pub fn saml_form(app: &vestibule_saml::SamlApp) -> SamlAppForm {
    let settings = &app.settings;
    SamlAppForm {
        name: app.name.clone(),
        entity_id: app.entity_id.clone(),
        assertion_consumers: consumer_lines(&settings.assertion_consumers),
        single_logout: settings.single_logout.clone().unwrap_or_default(),
        single_logout_binding: settings.single_logout_binding.form_key().to_string(),
        name_id_format: settings.name_id_format.form_key().to_string(),
        unspecified_is_imis_id: settings.unspecified_is_imis_id.then(|| "on".to_string()),
        sp_may_request_name_id_format: settings
            .sp_may_request_name_id_format
            .then(|| "on".to_string()),
        show_in_launcher: settings.show_in_launcher.then(|| "on".to_string()),
        attributes: settings
            .attributes
            .iter()
            .map(|m| format!("{} = {}", m.attribute, m.property))
            .collect::<Vec<_>>()
            .join("\n"),
        signed: settings.signed.form_key().to_string(),
        require_signed_requests: settings.require_signed_requests.then(|| "on".to_string()),
        sp_certificate: settings
            .sp_certificate
            .as_deref()
            .map(pem)
            .unwrap_or_default(),
        assertion_minutes: (settings.assertion_seconds / 60).to_string(),
        default_relay_state: settings.default_relay_state.clone(),
        encrypt_assertions: settings.encrypt_assertions.then(|| "on".to_string()),
        sp_encryption_certificate: settings
            .sp_encryption_certificate
            .as_deref()
            .map(pem)
            .unwrap_or_default(),
        domain: settings.domain.clone().unwrap_or_default(),
    }
}

/// How an app is named in the audit log.
#[cfg(feature = "ssr")]
pub fn saml_target(app: &vestibule_saml::SamlApp) -> String {
    format!("{} ({})", app.name, app.app_id)
}

/// The form for a new app: the engine's defaults.
#[cfg(feature = "ssr")]
fn new_saml_form() -> SamlAppForm {
    let input = vestibule_saml::SamlAppInput::default();
    SamlAppForm {
        name_id_format: input.name_id_format.form_key().to_string(),
        attributes: input
            .attributes
            .iter()
            .map(|m| format!("{} = {}", m.attribute, m.property))
            .collect::<Vec<_>>()
            .join("\n"),
        signed: input.signed.form_key().to_string(),
        assertion_minutes: input.assertion_minutes.to_string(),
        ..SamlAppForm::default()
    }
}

#[server(prefix = "/api", endpoint = "saml_apps")]
pub async fn saml_apps(cloud_id: String) -> Result<SamlAppsView, AppError> {
    ssr::respond(
        async {
            let caller = ssr::caller().await?;
            let tenant = ssr::accounts()?.tenant_to_read(&caller, &cloud_id).await?;
            let saml = ssr::saml()?;
            // The primary comes first: the IdP the page shows.
            let domains = ssr::domain_names(&tenant).await?;
            let primary = domains.first().map(String::as_str);
            let origin = ssr::site_origin(&tenant, primary)?;
            let idp = match &origin {
                Some(origin) => {
                    let key = saml
                        .keys
                        .signing_key(tenant.id, tenant.cloud_id.as_str(), ssr::now())
                        .await?;
                    Some(idp_view(origin, &key.certificate_der))
                }
                None => None,
            };
            let subscriptions = saml.metadata.list(tenant.id).await?;
            let mut apps = Vec::new();
            for app in saml.apps.list(tenant.id).await? {
                let notice = subscriptions
                    .iter()
                    .find(|(app_id, _)| *app_id == app.app_id)
                    .and_then(|(_, subscription)| subscription.notice());
                let site = ssr::site_origin(&tenant, app.settings.domain.as_deref().or(primary))?;
                apps.push(SamlAppView {
                    metadata_notice: notice,
                    ..app_view(app, site.as_deref())
                });
            }
            Ok(SamlAppsView {
                idp,
                apps,
                new_app: new_saml_form(),
                domains,
            })
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "create_saml_app")]
pub async fn create_saml_app(
    csrf: String,
    cloud_id: String,
    form: SamlAppForm,
) -> Result<String, AppError> {
    ssr::respond(
        async {
            let caller = ssr::caller_for_change(&csrf).await?;
            let tenant = ssr::accounts()?
                .tenant_to_change(&caller, &cloud_id)
                .await?;
            let app = ssr::saml()?
                .apps
                .create(tenant.id, saml_input(form)?, ssr::now())
                .await?;
            let target = saml_target(&app);
            let after = saml_form(&app);
            ssr::record_change(
                &caller,
                Some(tenant.id),
                vestibule_audit::AuditAction::SamlAppCreate,
                target,
                None,
                Some(&after),
            )
            .await;
            Ok(app.app_id)
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "saml_app")]
pub async fn saml_app(cloud_id: String, app_id: String) -> Result<SamlAppEditView, AppError> {
    ssr::respond(
        async {
            let caller = ssr::caller().await?;
            let tenant = ssr::accounts()?.tenant_to_read(&caller, &cloud_id).await?;
            let saml = ssr::saml()?;
            let app = saml.apps.get(tenant.id, &app_id).await?;
            let subscription = saml.metadata.get(tenant.id, &app_id).await?;
            Ok(SamlAppEditView {
                form: saml_form(&app),
                subscription: subscription.map(subscription_view),
                domains: ssr::domain_names(&tenant).await?,
            })
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "update_saml_app")]
pub async fn update_saml_app(
    csrf: String,
    cloud_id: String,
    app_id: String,
    form: SamlAppForm,
) -> Result<(), AppError> {
    ssr::respond(
        async {
            let caller = ssr::caller_for_change(&csrf).await?;
            let tenant = ssr::accounts()?
                .tenant_to_change(&caller, &cloud_id)
                .await?;
            let apps = ssr::saml()?.apps;
            let before = saml_form(&apps.get(tenant.id, &app_id).await?);
            let app = apps
                .update(tenant.id, &app_id, saml_input(form)?, ssr::now())
                .await?;
            let target = saml_target(&app);
            let after = saml_form(&app);
            ssr::record_change(
                &caller,
                Some(tenant.id),
                vestibule_audit::AuditAction::SamlAppUpdate,
                target,
                Some(&before),
                Some(&after),
            )
            .await;
            Ok(())
        }
        .await,
    )
}

/// Compares an app with the metadata its service provider publishes at `metadata_url`
/// (fetched through the outbound guard), and with `apply` set, applies what changed: the
/// assertion consumer services, single logout and certificates; the admin's own choices stay.
/// Audited like an edit.
/// Reads the service provider's metadata at `metadata_url` and compares it with the app;
/// `apply=yes` applies every change. `subscribe=daily` first subscribes the app to the address
/// (re-read every day; `apply_certificates=on` lets certificate rollovers apply without asking),
/// `subscribe=stop` ends the subscription instead of reading. Reads of the subscribed address
/// apply what the subscription allows, like the scheduled ones.
#[server(prefix = "/api", endpoint = "compare_saml_metadata")]
#[allow(clippy::too_many_arguments)]
pub async fn compare_saml_metadata(
    csrf: String,
    cloud_id: String,
    app_id: String,
    #[server(default)] metadata_url: String,
    #[server(default)] apply: String,
    #[server(default)] subscribe: String,
    #[server(default)] apply_certificates: Option<String>,
) -> Result<MetadataComparisonView, AppError> {
    ssr::respond(
        async {
            let caller = ssr::caller_for_change(&csrf).await?;
            let tenant = ssr::accounts()?
                .tenant_to_change(&caller, &cloud_id)
                .await?;
            let saml = ssr::saml()?;
            let app = saml.apps.get(tenant.id, &app_id).await?;
            let url = metadata_url.trim();
            let before = saml.metadata.get(tenant.id, &app_id).await?;
            let subscription_change = match subscribe.as_str() {
                "daily" => {
                    ssr::settings()?
                        .check_document_address(url)
                        .map_err(|why| {
                            AppError::Invalid(format!(
                                "The metadata address cannot be used: {why}."
                            ))
                        })?;
                    let allow = apply_certificates.is_some();
                    saml.metadata
                        .subscribe(tenant.id, &app_id, url, allow, ssr::now())
                        .await?;
                    Some(serde_json::json!({ "url": url, "apply_certificate_rollovers": allow }))
                }
                "stop" => {
                    saml.metadata.unsubscribe(tenant.id, &app_id).await?;
                    Some(serde_json::Value::Null)
                }
                _ => None,
            };
            let before = before.map(|subscription| {
                serde_json::json!({
                    "url": subscription.url,
                    "apply_certificate_rollovers": subscription.apply_certificates,
                })
            });
            let changed = subscription_change
                .filter(|after| before.as_ref().unwrap_or(&serde_json::Value::Null) != after);
            if let Some(after) = changed {
                ssr::record_change(
                    &caller,
                    Some(tenant.id),
                    vestibule_audit::AuditAction::SamlAppMetadataSubscription,
                    saml_target(&app),
                    before.as_ref(),
                    (!after.is_null()).then_some(&after),
                )
                .await;
            }
            if subscribe == "stop" {
                return Ok(MetadataComparisonView {
                    url: url.to_string(),
                    applied: Vec::new(),
                    waiting: Vec::new(),
                    subscription: None,
                });
            }
            ssr::document_turn(tenant.id).await?;
            let document = ssr::settings()?
                .fetch_document(url)
                .await
                .map_err(|error| error.to_string());
            let apply = if apply == "yes" {
                vestibule_saml::ApplyChanges::Everything
            } else {
                vestibule_saml::ApplyChanges::Nothing
            };
            let check = saml
                .metadata
                .check(tenant.id, &app_id, url, document, apply, ssr::now())
                .await?;
            if let Some(failure) = check.failure {
                return Err(AppError::Invalid(failure));
            }
            if let Some(after) = &check.after {
                ssr::record_change(
                    &caller,
                    Some(tenant.id),
                    vestibule_audit::AuditAction::SamlAppUpdate,
                    saml_target(after),
                    Some(&saml_form(&check.before)),
                    Some(&saml_form(after)),
                )
                .await;
            }
            let subscription = saml.metadata.get(tenant.id, &app_id).await?;
            Ok(MetadataComparisonView {
                url: url.to_string(),
                applied: change_views(check.applied),
                waiting: change_views(check.waiting),
                subscription: subscription.map(subscription_view),
            })
        }
        .await,
    )
}

#[server(prefix = "/api", endpoint = "delete_saml_app")]
pub async fn delete_saml_app(
    csrf: String,
    cloud_id: String,
    app_id: String,
    #[server(default)] confirm: String,
) -> Result<(), AppError> {
    ssr::respond(
        async {
            let caller = ssr::caller_for_change(&csrf).await?;
            let tenant = ssr::accounts()?
                .tenant_to_change(&caller, &cloud_id)
                .await?;
            let apps = ssr::saml()?.apps;
            let app = apps.get(tenant.id, &app_id).await?;
            confirmed(&confirm, &app.name, "delete this app")?;
            apps.delete(tenant.id, &app_id).await?;
            ssr::forget_recorded(tenant.id, vestibule_recorder::AppRef::saml(&app_id)).await;
            let target = saml_target(&app);
            let before = saml_form(&app);
            ssr::record_change(
                &caller,
                Some(tenant.id),
                vestibule_audit::AuditAction::SamlAppDelete,
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

/// Reads pasted service provider metadata into the app form, saving nothing.
#[server(prefix = "/api", endpoint = "preview_saml_metadata")]
pub async fn preview_saml_metadata(
    csrf: String,
    cloud_id: String,
    #[server(default)] metadata: String,
    #[server(default)] metadata_url: String,
) -> Result<SamlMetadataPreview, AppError> {
    ssr::respond(
        async {
            ssr::answer_needs_script("the imported settings for review")?;
            let caller = ssr::caller_for_change(&csrf).await?;
            // An admin's: it saves nothing, but it may read an address on the web.
            let tenant = ssr::accounts()?
                .tenant_to_change(&caller, &cloud_id)
                .await?;
            // Pasted or uploaded XML wins; otherwise the address, fetched through the outbound
            // guard (public HTTPS addresses only, no redirects, 1 MB, the iMIS timeout).
            let metadata = match (metadata.trim(), metadata_url.trim()) {
                ("", "") => {
                    return Err(AppError::Invalid(
                        "Give the metadata's address, or upload or paste the XML.".into(),
                    ))
                }
                ("", address) => {
                    ssr::document_turn(tenant.id).await?;
                    ssr::settings()?
                        .fetch_document(address)
                        .await
                        .map_err(|error| {
                            AppError::Invalid(format!(
                                "The metadata could not be fetched: {error}."
                            ))
                        })?
                }
                (pasted, _) => pasted.to_string(),
            };
            let parsed = vestibule_saml::parse_sp_metadata(metadata.trim()).map_err(|problem| {
                AppError::Invalid(format!("The metadata cannot be imported: {problem}."))
            })?;
            let notes = parsed.notes.clone();
            Ok(SamlMetadataPreview {
                form: imported_form(parsed),
                notes,
            })
        }
        .await,
    )
}

/// What a service provider needs to know about the IdP on `origin`.
#[cfg(feature = "ssr")]
fn idp_view(origin: &str, certificate_der: &[u8]) -> SamlIdpView {
    SamlIdpView {
        metadata_url: format!("{origin}/saml/metadata"),
        entity_id: format!("{origin}/saml/metadata"),
        single_sign_on: format!("{origin}/saml/sso"),
        single_logout: format!("{origin}/saml/slo"),
        certificate_pem: pem(certificate_der),
        certificate_url: format!("{origin}/saml/certificate.pem"),
    }
}

/// One app in the list; the default assertion consumer first.
#[cfg(feature = "ssr")]
fn app_view(app: vestibule_saml::SamlApp, origin: Option<&str>) -> SamlAppView {
    let mut consumers = app.settings.assertion_consumers.clone();
    consumers.sort_by_key(|acs| (!acs.is_default, acs.index));
    SamlAppView {
        idp_initiated_link: origin.map(|origin| format!("{origin}/saml/idp/{}", app.app_id)),
        app_id: app.app_id,
        name: app.name,
        entity_id: app.entity_id,
        assertion_consumers: consumers
            .iter()
            .map(|acs| format!("{} (index {})", acs.url, acs.index))
            .collect(),
        single_logout: app.settings.single_logout,
        name_id_format: app.settings.name_id_format.uri().to_string(),
        signed: app.settings.signed.form_key().to_string(),
        require_signed_requests: app.settings.require_signed_requests,
        encrypt_assertions: app.settings.encrypt_assertions,
        metadata_notice: None,
        domain: app.settings.domain,
    }
}

#[cfg(feature = "ssr")]
fn change_views(changes: Vec<vestibule_saml::MetadataChange>) -> Vec<MetadataChangeView> {
    changes
        .into_iter()
        .map(|change| MetadataChangeView {
            field: change.field,
            before: change.before,
            after: change.after,
        })
        .collect()
}

#[cfg(feature = "ssr")]
fn subscription_view(
    subscription: vestibule_saml::MetadataSubscription,
) -> MetadataSubscriptionView {
    MetadataSubscriptionView {
        url: subscription.url,
        apply_certificates: subscription.apply_certificates,
        checked_at: subscription.checked_at.map(|at| at.to_string()),
        next_check_at: subscription.next_check_at.to_string(),
        failure: subscription.failure,
        waiting: change_views(subscription.waiting),
    }
}

/// The add form filled from a service provider's metadata, named after its host.
#[cfg(feature = "ssr")]
fn imported_form(parsed: vestibule_saml::SpMetadata) -> SamlAppForm {
    let defaults = new_saml_form();
    let name = parsed
        .entity_id
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split(['/', ':']).next())
        .unwrap_or(&parsed.entity_id)
        .to_string();
    SamlAppForm {
        name,
        entity_id: parsed.entity_id,
        assertion_consumers: consumer_lines(&parsed.assertion_consumers),
        single_logout: parsed.single_logout.unwrap_or_default(),
        single_logout_binding: parsed.single_logout_binding.form_key().to_string(),
        name_id_format: parsed
            .name_id_format
            .map_or(defaults.name_id_format.clone(), |format| {
                format.form_key().to_string()
            }),
        require_signed_requests: (parsed.authn_requests_signed
            && parsed.signing_certificate.is_some())
        .then(|| "on".to_string()),
        sp_certificate: parsed
            .signing_certificate
            .as_deref()
            .map(pem)
            .unwrap_or_default(),
        // Offered, not switched on: the admin decides to encrypt.
        sp_encryption_certificate: parsed
            .encryption_certificate
            .as_deref()
            .map(pem)
            .unwrap_or_default(),
        ..defaults
    }
}

/// The "Send to your vendor" sheet of one app: the identity provider's addresses and
/// certificate, and what this app's registration expects and sends. Nothing secret is on it.
#[server(prefix = "/api", endpoint = "saml_vendor_sheet")]
pub async fn saml_vendor_sheet(
    cloud_id: String,
    app_id: String,
) -> Result<VendorSheetView, AppError> {
    use super::vendor::{fact, sheet_text};
    use vestibule_saml::{NameIdFormat, SignedPartsSetting};
    ssr::respond(
        async {
            let caller = ssr::caller().await?;
            let tenant = ssr::accounts()?.tenant_to_read(&caller, &cloud_id).await?;
            let saml = ssr::saml()?;
            let app = saml.apps.get(tenant.id, &app_id).await?;
            let back_href = format!("/t/{cloud_id}/saml");
            let Some(origin) = ssr::app_site(&tenant, app.settings.domain.as_deref()).await? else {
                return Ok(VendorSheetView {
                    app_name: app.name,
                    protocol: "SAML 2.0".to_string(),
                    back_href,
                    facts: Vec::new(),
                    text: String::new(),
                    download_href: None,
                    download_name: String::new(),
                });
            };
            let key = saml
                .keys
                .signing_key(tenant.id, tenant.cloud_id.as_str(), ssr::now())
                .await?;
            let idp = idp_view(&origin, &key.certificate_der);
            let settings = &app.settings;
            let name_id = match (settings.name_id_format, settings.unspecified_is_imis_id) {
                (NameIdFormat::Unspecified, true) => "the member's iMIS ID",
                (NameIdFormat::Unspecified, false) => "the member's iMIS username",
                (NameIdFormat::EmailAddress, _) => "the member's e-mail address",
                (NameIdFormat::Persistent, _) => "an opaque identifier, stable for each member, for this app only",
                (NameIdFormat::Transient, _) => "a new opaque identifier at every sign-in",
            };
            let signed = match settings.signed {
                SignedPartsSetting::Assertion => "the assertion",
                SignedPartsSetting::Response => "the response",
                SignedPartsSetting::Both => "the response and the assertion",
            };
            let mut consumers = settings.assertion_consumers.clone();
            consumers.sort_by_key(|acs| (!acs.is_default, acs.index));
            let consumers = consumers
                .iter()
                .map(|acs| format!("{} (index {}, HTTP-POST)", acs.url, acs.index))
                .collect::<Vec<_>>()
                .join("\n");
            let attributes = settings
                .attributes
                .iter()
                .map(|mapping| format!("{} (the member's {})", mapping.attribute, mapping.property))
                .collect::<Vec<_>>()
                .join("\n");
            let mut facts = vec![
                fact("IdP entity ID (Issuer)", idp.entity_id.clone()),
                fact("IdP metadata URL", idp.metadata_url.clone()),
                fact("Single sign-on URL (HTTP-Redirect and HTTP-POST)", idp.single_sign_on.clone()),
                fact("Single logout URL", idp.single_logout.clone()),
                fact("IdP-initiated sign-in link", format!("{origin}/saml/idp/{}", app.app_id)),
                fact("Signing certificate (PEM)", idp.certificate_pem.trim().to_string()),
                fact("Signature", format!("RSA-SHA256 over {signed}")),
                fact("Your entity ID we expect", app.entity_id.clone()),
                fact("Assertion consumer services we send to (exactly)", consumers),
            ];
            if let Some(logout) = &settings.single_logout {
                facts.push(fact("Your single logout URL", logout.clone()));
            }
            facts.push(fact(
                "NameID",
                format!("{}: {name_id}", settings.name_id_format.uri()),
            ));
            if !attributes.is_empty() {
                facts.push(fact("Attributes", attributes));
            }
            facts.push(fact(
                "Your requests",
                if settings.require_signed_requests {
                    "must be signed (with the certificate in your metadata)"
                } else {
                    "may be signed or not"
                },
            ));
            if settings.encrypt_assertions {
                facts.push(fact(
                    "Encryption",
                    "assertions are encrypted to your encryption certificate (AES-256-GCM, RSA-OAEP)",
                ));
            }
            let heading = format!(
                "Single sign-on for {} (SAML 2.0), from {}",
                app.name, tenant.display_name
            );
            let host = origin
                .split_once("://")
                .map_or(origin.as_str(), |(_, host)| host)
                .split(':')
                .next()
                .unwrap_or_default()
                .to_string();
            Ok(VendorSheetView {
                text: sheet_text(&heading, &facts),
                app_name: app.name,
                protocol: "SAML 2.0".to_string(),
                back_href,
                facts,
                download_href: Some(format!("{}?download", idp.metadata_url)),
                download_name: format!("{host}-idp-metadata.xml"),
            })
        }
        .await,
    )
}

/// The SAML signing certificates (the one that signs and the next one) and the OpenID
/// Connect token keys, as the calendar shows them.
#[server(prefix = "/api", endpoint = "signing_calendar")]
pub async fn signing_calendar(cloud_id: String) -> Result<SigningCalendarView, AppError> {
    ssr::respond(
        async {
            let caller = ssr::caller().await?;
            let tenant = ssr::accounts()?.tenant_to_read(&caller, &cloud_id).await?;
            let now = ssr::now();
            // The first key is made when it is first needed: the calendar shows it from the start.
            let saml = ssr::saml()?;
            saml.keys
                .signing_key(tenant.id, tenant.cloud_id.as_str(), now)
                .await?;
            let calendar = saml.keys.calendar(tenant.id, now).await?;
            let certificate = |entry: vestibule_saml::CalendarEntry| SigningCertificateView {
                kid: entry.kid,
                published_since: entry.created_at.to_string(),
                signs_from: entry.signs_from.to_string(),
                valid_until: entry.not_after.to_string(),
            };
            let oidc_keys = ssr::state()?
                .oidc_keys
                .calendar(tenant.id, now)
                .await?
                .into_iter()
                .map(|window| TokenKeyView {
                    kid: window.kid,
                    algorithm: window.algorithm,
                    signs_from: window.signs_from.to_string(),
                    signs_until: window.signs_until.to_string(),
                    published_until: window.published_until.to_string(),
                })
                .collect();
            Ok(SigningCalendarView {
                saml_current: calendar.current.map(certificate),
                saml_next: calendar.next.map(certificate),
                oidc_keys,
            })
        }
        .await,
    )
}

/// Makes the next SAML certificate: published at once, signing after `overlap_days`.
#[server(prefix = "/api", endpoint = "prepare_saml_rollover")]
pub async fn prepare_saml_rollover(
    csrf: String,
    cloud_id: String,
    overlap_days: String,
) -> Result<(), AppError> {
    ssr::respond(
        async {
            let caller = ssr::caller_for_change(&csrf).await?;
            let tenant = ssr::accounts()?
                .tenant_to_change(&caller, &cloud_id)
                .await?;
            let days = rollover_days(&overlap_days)?;
            let keys = &ssr::saml()?.keys;
            let overlap = vestibule_domain::Seconds(days * 86_400);
            let next = keys
                .prepare_rollover(tenant.id, tenant.cloud_id.as_str(), overlap, ssr::now())
                .await?;
            let after = serde_json::json!({
                "next_certificate": next.kid,
                "signs_from": next.signs_from.to_string(),
            });
            let action = vestibule_audit::AuditAction::SamlCertificatePrepare;
            let target = "SAML signing certificate".to_string();
            ssr::record_change(&caller, Some(tenant.id), action, target, None, Some(&after)).await;
            ssr::after_form_post(&format!("/t/{cloud_id}/saml"));
            Ok(())
        }
        .await,
    )
}

/// Rolls over to the next SAML certificate now (`postpone_days` empty), or postpones its start
/// by `postpone_days`.
#[server(prefix = "/api", endpoint = "reschedule_saml_rollover")]
pub async fn reschedule_saml_rollover(
    csrf: String,
    cloud_id: String,
    kid: String,
    #[server(default)] postpone_days: String,
) -> Result<(), AppError> {
    ssr::respond(
        async {
            let caller = ssr::caller_for_change(&csrf).await?;
            let tenant = ssr::accounts()?
                .tenant_to_change(&caller, &cloud_id)
                .await?;
            let keys = &ssr::saml()?.keys;
            let now = ssr::now();
            let next = keys
                .calendar(tenant.id, now)
                .await?
                .next
                .filter(|next| next.kid == kid)
                .ok_or(AppError::NotFound)?;
            let (signs_from, action) = if postpone_days.trim().is_empty() {
                (now, vestibule_audit::AuditAction::SamlCertificateRoll)
            } else {
                let days = rollover_days(&postpone_days)?;
                let later = next.signs_from + vestibule_domain::Seconds(days * 86_400);
                (later, vestibule_audit::AuditAction::SamlCertificatePostpone)
            };
            if !keys
                .reschedule_rollover(tenant.id, &kid, signs_from, now)
                .await?
            {
                return Err(AppError::NotFound);
            }
            let before = serde_json::json!({ "signs_from": next.signs_from.to_string() });
            let after = serde_json::json!({ "signs_from": signs_from.to_string() });
            let target = format!("SAML signing certificate {kid}");
            ssr::record_change(
                &caller,
                Some(tenant.id),
                action,
                target,
                Some(&before),
                Some(&after),
            )
            .await;
            ssr::after_form_post(&format!("/t/{cloud_id}/saml"));
            Ok(())
        }
        .await,
    )
}

/// An overlap or a postponement in days, as the forms offer them: 1 to 365.
#[cfg(feature = "ssr")]
fn rollover_days(text: &str) -> Result<i64, AppError> {
    match text.trim().parse::<i64>() {
        Ok(days) if (1..=365).contains(&days) => Ok(days),
        _ => Err(AppError::Invalid(
            "Choose a number of days from 1 to 365.".to_string(),
        )),
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;

    /// Every template's starting values pass the checks an Add press runs, once the admin has
    /// typed the addresses the template can only show as examples.
    #[test]
    fn every_template_fills_a_form_the_engine_accepts() {
        for template in crate::templates::SAML_TEMPLATES {
            let mut form = template.apply(new_saml_form());
            form.name = "Vendor".into();
            form.entity_id = "https://sp.example.org".into();
            form.assertion_consumers = "https://sp.example.org/acs".into();
            // What importing the vendor's metadata brings when its requests are signed.
            if template.require_signed_requests {
                form.sp_certificate = include_str!("test-sp-certificate.pem").into();
            }
            let input = saml_input(form).unwrap_or_else(|error| panic!("{}: {error}", template.id));
            input
                .check()
                .unwrap_or_else(|error| panic!("{}: {error}", template.id));
        }
    }
}

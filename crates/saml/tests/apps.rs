//! SAML apps on SQLite and PostgreSQL: registered per tenant, found by entity id, assertion
//! consumer services matched exactly, and bad input refused with the field to fix.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use vestibule_domain::{Seconds, TenantId, Timestamp};
use vestibule_saml::{
    parse_sp_metadata, ApplyChanges, AssertionConsumer, EncryptionKey, LogoutBinding,
    MetadataSubscriptions, NameIdFormat, SamlAppInput, SamlApps, SamlError, SignedPartsSetting,
    REFRESH_EVERY,
};
use vestibule_storage::testing::{for_each_backend, TestDatabase};
use vestibule_storage::{Conflict, StorageError};

mod support;

const T0: Timestamp = Timestamp(1_900_000_000);

/// One way to spoil the form.
type Change = Box<dyn Fn(&mut SamlAppInput)>;

async fn tenants(db: &TestDatabase) -> (TenantId, TenantId) {
    let store = db.store();
    let acme = store
        .create_tenant(&"acme".parse().unwrap(), "Acme", T0)
        .await
        .unwrap();
    let beta = store
        .create_tenant(&"beta".parse().unwrap(), "Beta", T0)
        .await
        .unwrap();
    (acme.id, beta.id)
}

fn acs(url: &str, index: u32) -> AssertionConsumer {
    AssertionConsumer {
        url: url.into(),
        index,
        is_default: false,
    }
}

fn events() -> SamlAppInput {
    SamlAppInput {
        name: "Events".into(),
        entity_id: "https://events.example.org/saml".into(),
        assertion_consumers: vec![
            acs("https://events.example.org/saml/acs", 0),
            acs("https://events.example.org/saml/acs2", 1),
        ],
        single_logout: Some("https://events.example.org/saml/slo".into()),
        name_id_format: NameIdFormat::EmailAddress,
        ..SamlAppInput::default()
    }
}

#[tokio::test]
async fn apps_are_registered_per_tenant_and_found_by_entity_id() {
    for_each_backend(|db| async move {
        let (acme, beta) = tenants(&db).await;
        let apps = SamlApps::new(db.store().clone());
        let created = apps.create(acme, events(), T0).await.unwrap();
        assert_eq!(created.app_id.len(), 12);
        assert!(
            created.settings.assertion_consumers[0].is_default,
            "the first is the default"
        );
        assert_eq!(created.settings.assertion_seconds, 300);

        let found = apps
            .by_entity_id(acme, "https://events.example.org/saml")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found, created);
        assert!(apps
            .by_entity_id(beta, "https://events.example.org/saml")
            .await
            .unwrap()
            .is_none());
        assert!(matches!(
            apps.get(beta, &created.app_id).await,
            Err(SamlError::NoSuchApp)
        ));

        // The same entity id twice in one tenant is refused; another tenant may register it.
        let again = apps.create(acme, events(), T0).await;
        assert!(
            matches!(
                again,
                Err(SamlError::Storage(StorageError::Conflict(
                    Conflict::SamlEntityId
                )))
            ),
            "{again:?}"
        );
        apps.create(beta, events(), T0).await.unwrap();

        let mut edited = events();
        edited.name = "Events and Meetings".into();
        edited.signed = SignedPartsSetting::Both;
        edited.assertion_minutes = 2;
        let updated = apps
            .update(acme, &created.app_id, edited, T0)
            .await
            .unwrap();
        assert_eq!(updated.name, "Events and Meetings");
        assert_eq!(updated.settings.signed, SignedPartsSetting::Both);
        assert_eq!(
            apps.list(acme).await.unwrap(),
            std::slice::from_ref(&updated)
        );
        assert!(matches!(
            apps.update(beta, &created.app_id, events(), T0).await,
            Err(SamlError::NoSuchApp)
        ));

        apps.delete(acme, &created.app_id).await.unwrap();
        assert!(apps.list(acme).await.unwrap().is_empty());
        assert!(matches!(
            apps.delete(acme, &created.app_id).await,
            Err(SamlError::NoSuchApp)
        ));
    })
    .await;
}

#[tokio::test]
async fn assertion_consumers_are_matched_exactly() {
    for_each_backend(|db| async move {
        let (acme, _) = tenants(&db).await;
        let app = SamlApps::new(db.store().clone())
            .create(acme, events(), T0)
            .await
            .unwrap();
        let first = "https://events.example.org/saml/acs";
        let second = "https://events.example.org/saml/acs2";
        assert_eq!(app.assertion_consumer(None, None), Some(first));
        assert_eq!(app.assertion_consumer(Some(second), None), Some(second));
        assert_eq!(app.assertion_consumer(None, Some(1)), Some(second));
        assert_eq!(app.assertion_consumer(None, Some(7)), None);
        for unregistered in [
            "https://events.example.org/saml/acs/",
            "https://events.example.org/saml/ACS",
            "https://evil.example/saml/acs",
            "https://events.example.org/saml/acs?x=1",
        ] {
            assert_eq!(
                app.assertion_consumer(Some(unregistered), None),
                None,
                "{unregistered}"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn bad_input_names_the_field_and_saves_nothing() {
    for_each_backend(|db| async move {
        let (acme, _) = tenants(&db).await;
        let apps = SamlApps::new(db.store().clone());
        let cases: Vec<(&str, Change)> = vec![
            ("name", Box::new(|i| i.name = " ".into())),
            ("entity_id", Box::new(|i| i.entity_id = "has spaces".into())),
            (
                "assertion_consumers",
                Box::new(|i| i.assertion_consumers.clear()),
            ),
            (
                "assertion_consumers",
                Box::new(|i| i.assertion_consumers = vec![acs("http://events.example.org/acs", 0)]),
            ),
            (
                "assertion_consumers",
                Box::new(|i| {
                    i.assertion_consumers = vec![
                        acs("https://events.example.org/a", 0),
                        acs("https://events.example.org/b", 0),
                    ]
                }),
            ),
            (
                "single_logout",
                Box::new(|i| i.single_logout = Some("ftp://x".into())),
            ),
            (
                "sp_certificate",
                Box::new(|i| i.require_signed_requests = true),
            ),
            (
                "sp_certificate",
                Box::new(|i| {
                    i.sp_certificate = Some("-----BEGIN CERTIFICATE-----\nnot base64\n".into())
                }),
            ),
            (
                "sp_encryption_certificate",
                Box::new(|i| i.encrypt_assertions = true),
            ),
            (
                "sp_encryption_certificate",
                Box::new(|i| {
                    // A certificate's shape, but not one.
                    i.sp_encryption_certificate = Some(format!("MI{}", "A".repeat(200)));
                }),
            ),
            ("assertion_minutes", Box::new(|i| i.assertion_minutes = 0)),
            (
                "default_relay_state",
                Box::new(|i| i.default_relay_state = "r".repeat(81)),
            ),
            (
                "attributes",
                Box::new(|i| {
                    i.attributes[0].attribute = "e mail".into();
                }),
            ),
        ];
        for (field, change) in cases {
            let mut input = events();
            change(&mut input);
            match apps.create(acme, input, T0).await {
                Err(SamlError::Invalid(invalid)) => assert_eq!(invalid.field, field, "{invalid}"),
                other => panic!("{field}: {other:?}"),
            }
        }
        assert!(apps.list(acme).await.unwrap().is_empty());
    })
    .await;
}

/// Metadata exactly as pysaml2 7.5 writes it (the service provider of the browser stories):
/// `ns0:` prefixes, algorithm-support extensions, separate signing and encryption keys.
#[test]
fn pysaml2_metadata_fills_the_form_with_both_certificates() {
    let xml = include_str!("fixtures/pysaml2-sp-metadata.xml");
    let parsed = parse_sp_metadata(xml).unwrap();
    assert_eq!(parsed.entity_id, "http://127.0.0.1:43257/metadata");
    assert_eq!(
        parsed.assertion_consumers,
        vec![AssertionConsumer {
            url: "http://127.0.0.1:43257/acs".into(),
            index: 1,
            is_default: true,
        }]
    );
    assert_eq!(
        parsed.single_logout.as_deref(),
        Some("http://127.0.0.1:43257/slo")
    );
    assert_eq!(parsed.name_id_format, Some(NameIdFormat::Persistent));
    assert!(parsed.authn_requests_signed);
    assert!(parsed.signing_certificate.is_some());
    let encryption = parsed.encryption_certificate.unwrap();
    assert!(EncryptionKey::from_certificate(&encryption).is_ok());
    assert!(parsed.notes.is_empty(), "{:?}", parsed.notes);
}

/// Metadata whose only single logout service is HTTP-POST: kept, with its binding, so logout
/// reaches that service provider (it used to be dropped with a note).
#[test]
fn a_post_only_single_logout_service_is_imported_with_its_binding() {
    let xml = include_str!("fixtures/pysaml2-sp-metadata.xml").replace(
        "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" Location=\"http://127.0.0.1:43257/slo\"",
        "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" Location=\"http://127.0.0.1:43257/slo-post\"",
    );
    let parsed = parse_sp_metadata(&xml).unwrap();
    assert_eq!(
        parsed.single_logout.as_deref(),
        Some("http://127.0.0.1:43257/slo-post")
    );
    assert_eq!(parsed.single_logout_binding, LogoutBinding::Post);
    assert!(parsed.notes.is_empty(), "{:?}", parsed.notes);
    let redirect = parse_sp_metadata(include_str!("fixtures/pysaml2-sp-metadata.xml")).unwrap();
    assert_eq!(redirect.single_logout_binding, LogoutBinding::Redirect);
}

#[test]
fn the_forms_text_areas_are_read_one_line_at_a_time() {
    let consumers =
        AssertionConsumer::parse_lines("https://a.example/acs\n\n 3 https://a.example/acs3 \n")
            .unwrap();
    assert_eq!(
        consumers,
        [
            acs("https://a.example/acs", 0),
            acs("https://a.example/acs3", 3)
        ]
        .map(|mut c| {
            c.is_default = c.index == 0;
            c
        })
    );
    let too_large =
        AssertionConsumer::parse_lines("99999999999 https://a.example/acs").unwrap_err();
    assert!(
        too_large.message.contains("line 1: the index is too large"),
        "{too_large}"
    );
    let attributes = vestibule_saml::AttributeMapping::parse_lines("mail = Email").unwrap();
    assert_eq!(attributes[0].attribute, "mail");
    let refused = vestibule_saml::AttributeMapping::parse_lines("mail Email").unwrap_err();
    assert!(refused.message.contains("Attribute line 1"), "{refused}");
}

#[test]
fn the_forms_choices_read_back_what_they_show() {
    for format in [
        NameIdFormat::Unspecified,
        NameIdFormat::EmailAddress,
        NameIdFormat::Persistent,
        NameIdFormat::Transient,
    ] {
        assert_eq!(NameIdFormat::from_form_key(format.form_key()), Ok(format));
    }
    for signed in [
        SignedPartsSetting::Assertion,
        SignedPartsSetting::Response,
        SignedPartsSetting::Both,
    ] {
        assert_eq!(
            SignedPartsSetting::from_form_key(signed.form_key()),
            Ok(signed)
        );
    }
    assert_eq!(
        LogoutBinding::from_form_key(""),
        Ok(LogoutBinding::Redirect)
    );
    assert_eq!(
        LogoutBinding::from_form_key("post"),
        Ok(LogoutBinding::Post)
    );
    assert!(NameIdFormat::from_form_key("emailAddress").is_err());
    assert!(SignedPartsSetting::from_form_key("").is_err());
    assert!(LogoutBinding::from_form_key("artifact").is_err());
}

/// An app registered from pysaml2's metadata, then compared with the metadata it publishes
/// later: a new assertion consumer service and a rolled-over signing certificate.
#[tokio::test]
async fn fresh_metadata_is_compared_with_the_app_and_applied_keeping_the_admins_choices() {
    for_each_backend(|db| async move {
        let (acme, _) = tenants(&db).await;
        let apps = SamlApps::new(db.store().clone());
        let xml = include_str!("fixtures/pysaml2-sp-metadata.xml");
        let parsed = parse_sp_metadata(xml).unwrap();
        let input = SamlAppInput {
            name: "Learning".into(),
            entity_id: parsed.entity_id.clone(),
            assertion_consumers: parsed.assertion_consumers.clone(),
            single_logout: parsed.single_logout.clone(),
            name_id_format: NameIdFormat::Persistent,
            signed: SignedPartsSetting::Both,
            ..SamlAppInput::default()
        };
        let app = apps.create(acme, input, T0).await.unwrap();
        // The registration round-trips through the form unchanged.
        assert_eq!(app.input().assertion_consumers, parsed.assertion_consumers);

        // The same metadata, with its certificates now registered, changes nothing.
        let with_certificates = apps
            .update(acme, &app.app_id, app.with_metadata(&parsed), T0)
            .await
            .unwrap();
        assert_eq!(with_certificates.metadata_changes(&parsed).unwrap(), vec![]);
        assert_eq!(with_certificates.settings.signed, SignedPartsSetting::Both);

        // Later: the service provider publishes a second assertion consumer service.
        let later = xml.replace(
            "</ns0:SPSSODescriptor>",
            "<ns0:AssertionConsumerService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" \
             Location=\"http://127.0.0.1:43257/acs2\" index=\"2\"/></ns0:SPSSODescriptor>",
        );
        let fresh = parse_sp_metadata(&later).unwrap();
        let changes = with_certificates.metadata_changes(&fresh).unwrap();
        let fields: Vec<&str> = changes.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(fields, ["Assertion consumer services"]);
        assert!(changes[0].after.contains("2 http://127.0.0.1:43257/acs2"));
        assert!(!changes[0].is_certificate());
        let applied = apps
            .update(acme, &app.app_id, with_certificates.with_metadata(&fresh), T0)
            .await
            .unwrap();
        assert_eq!(applied.settings.assertion_consumers.len(), 2);
        assert_eq!(applied.name, "Learning");
        assert_eq!(applied.settings.name_id_format, NameIdFormat::Persistent);

        // Metadata of another service provider is not this app's.
        let other = xml.replace("http://127.0.0.1:43257/metadata", "https://other.example/sp");
        let refused = applied.metadata_changes(&parse_sp_metadata(&other).unwrap());
        assert!(refused.unwrap_err().contains("describes https://other.example/sp"));
    })
    .await;
}

/// A new RSA certificate (base64 DER, as metadata carries it): the service provider's next one.
fn next_certificate() -> String {
    use base64::Engine as _;
    let (_, der) = support::service_provider_key(2048);
    base64::engine::general_purpose::STANDARD.encode(der)
}

/// An app subscribed to its service provider's metadata address: due reads claimed once, a
/// failed read kept, a certificate rollover applied on its own when allowed while a new address
/// waits for the admin, and nothing applied when rollovers were not allowed.
#[tokio::test]
async fn subscribed_metadata_applies_allowed_rollovers_and_keeps_the_rest_for_the_admin() {
    for_each_backend(|db| async move {
        let (acme, beta) = tenants(&db).await;
        let store = db.store().clone();
        let apps = SamlApps::new(store.clone());
        let subscriptions = MetadataSubscriptions::new(store);
        let xml = include_str!("fixtures/pysaml2-sp-metadata.xml");
        let parsed = parse_sp_metadata(xml).unwrap();
        let input = SamlAppInput {
            name: "Learning".into(),
            entity_id: parsed.entity_id.clone(),
            assertion_consumers: parsed.assertion_consumers.clone(),
            ..SamlAppInput::default()
        };
        let created = apps.create(acme, input, T0).await.unwrap();
        let app = apps
            .update(acme, &created.app_id, created.with_metadata(&parsed), T0)
            .await
            .unwrap();
        let id = app.app_id.as_str();
        let url = "https://learning.example/saml/metadata";

        // One address (the outbound guard judges it when read); only the tenant's own apps.
        for bad in ["https://a.example/ x", ""] {
            let refused = subscriptions.subscribe(acme, id, bad, true, T0).await;
            assert!(matches!(refused, Err(SamlError::Invalid(_))), "{bad}");
        }
        let foreign = subscriptions.subscribe(beta, id, url, true, T0).await;
        assert!(matches!(foreign, Err(SamlError::NoSuchApp)));
        subscriptions.subscribe(acme, id, url, true, T0).await.unwrap();

        // Due at once, claimed by one node only.
        let due = subscriptions.claim_due(T0, 10).await.unwrap();
        assert_eq!(due, vec![(acme, id.to_string(), url.to_string())]);
        assert_eq!(subscriptions.claim_due(T0, 10).await.unwrap(), vec![]);

        // A failed read is kept for the app's page, and the address is read again a day later.
        let failed = subscriptions
            .check(acme, id, url, Err("connection refused".into()), ApplyChanges::Nothing, T0)
            .await
            .unwrap();
        assert!(failed.after.is_none());
        let shown = subscriptions.get(acme, id).await.unwrap().unwrap();
        assert_eq!(
            shown.failure.as_deref(),
            Some("The metadata could not be fetched: connection refused.")
        );
        assert_eq!(shown.next_check_at, T0 + REFRESH_EVERY);
        assert_eq!(subscriptions.claim_due(T0 + Seconds::hours(23), 10).await.unwrap(), vec![]);

        // The service provider rolls its signing certificate over and adds an ACS: the
        // certificate is applied (allowed), the address waits for the admin.
        let current = parsed.signing_certificate.as_deref().unwrap();
        let current = {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.encode(current)
        };
        let next = next_certificate();
        let later = xml.replacen(&current, &next, 1).replace(
            "</ns0:SPSSODescriptor>",
            "<ns0:AssertionConsumerService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" \
             Location=\"https://learning.example/acs2\" index=\"2\"/></ns0:SPSSODescriptor>",
        );
        let t1 = T0 + REFRESH_EVERY;
        let check = subscriptions
            .check(acme, id, url, Ok(later.clone()), ApplyChanges::Nothing, t1)
            .await
            .unwrap();
        let fields = |changes: &[vestibule_saml::MetadataChange]| -> Vec<String> {
            changes.iter().map(|c| c.field.clone()).collect()
        };
        assert_eq!(check.failure, None);
        assert_eq!(fields(&check.applied), ["Signing certificate"]);
        assert_eq!(fields(&check.waiting), ["Assertion consumer services"]);
        let rolled = apps.get(acme, id).await.unwrap();
        assert_ne!(rolled.settings.sp_certificate, app.settings.sp_certificate);
        assert_eq!(rolled.settings.assertion_consumers.len(), 1);
        let shown = subscriptions.get(acme, id).await.unwrap().unwrap();
        assert_eq!((shown.failure, fields(&shown.waiting)), (None, vec!["Assertion consumer services".to_string()]));

        // The admin applies the rest; nothing waits then.
        let check = subscriptions
            .check(acme, id, url, Ok(later.clone()), ApplyChanges::Everything, t1)
            .await
            .unwrap();
        assert_eq!(fields(&check.applied), ["Assertion consumer services"]);
        assert_eq!(apps.get(acme, id).await.unwrap().settings.assertion_consumers.len(), 2);
        assert!(subscriptions.get(acme, id).await.unwrap().unwrap().waiting.is_empty());

        // Rollovers not allowed: the next certificate waits like everything else.
        subscriptions.subscribe(acme, id, url, false, t1).await.unwrap();
        let again = later.replacen(&next, &next_certificate(), 1);
        let check = subscriptions
            .check(acme, id, url, Ok(again), ApplyChanges::Nothing, t1)
            .await
            .unwrap();
        assert!(check.applied.is_empty() && check.after.is_none());
        assert_eq!(fields(&check.waiting), ["Signing certificate"]);

        // Another service provider's metadata is a failure, not a change.
        let other = later.replace("http://127.0.0.1:43257/metadata", "https://other.example/sp");
        let check = subscriptions
            .check(acme, id, url, Ok(other), ApplyChanges::Everything, t1)
            .await
            .unwrap();
        assert!(check.failure.unwrap().starts_with("This is not the app's metadata"));
        assert!(check.after.is_none());

        // The subscription goes with its app.
        apps.delete(acme, id).await.unwrap();
        assert!(subscriptions.list(acme).await.unwrap().is_empty());
    })
    .await;
}

/// Issue 26 §4: a service provider certificate is flagged from 30 days before it expires,
/// and a subscription whose read failed is flagged; both say which app.
#[tokio::test]
async fn apps_needing_their_admins_are_found_by_certificate_and_metadata() {
    use vestibule_saml::{certificate_pem, needing_attention, MetadataSubscription};
    let db = vestibule_storage::testing::sqlite().await;
    let (acme, _) = tenants(&db).await;
    let (_, certificate) = support::service_provider_key(2048);
    let input = SamlAppInput {
        sp_certificate: Some(certificate_pem(&certificate)),
        ..events()
    };
    let now = Timestamp::now();
    let app = SamlApps::new(db.store().clone())
        .create(acme, input, now)
        .await
        .unwrap();
    // Valid for 30 days from now: flagged now, not a day earlier.
    let flagged = needing_attention(std::slice::from_ref(&app), &[], now);
    assert_eq!(flagged.len(), 1, "{flagged:?}");
    assert!(
        flagged[0]
            .text
            .starts_with("the service provider's signing certificate expires on "),
        "{flagged:?}"
    );
    let earlier = now - vestibule_domain::Seconds(86_400);
    assert!(needing_attention(std::slice::from_ref(&app), &[], earlier).is_empty());

    let failing = MetadataSubscription {
        url: "https://events.example.org/metadata".into(),
        apply_certificates: false,
        checked_at: Some(earlier),
        next_check_at: now,
        failure: Some("connection refused".into()),
        waiting: Vec::new(),
    };
    let subscriptions = [(app.app_id.clone(), failing)];
    let flagged = needing_attention(std::slice::from_ref(&app), &subscriptions, earlier);
    assert_eq!(flagged.len(), 1);
    assert_eq!(
        (flagged[0].app_name.as_str(), flagged[0].text.as_str()),
        ("Events", "Reading its metadata failed: connection refused")
    );
}

/// Issue 26 §6: an app can be bound only to one of its own Cloud ID's domains, never to
/// another's; blank follows the primary.
#[tokio::test]
async fn an_app_is_bound_only_to_its_own_cloud_ids_domains() {
    for_each_backend(|db| async move {
        let (acme, beta) = tenants(&db).await;
        let store = db.store();
        store
            .claim_domain(acme, "sso-test.acme.org", T0)
            .await
            .unwrap();
        store.claim_domain(beta, "sso.beta.org", T0).await.unwrap();
        let apps = SamlApps::new(store.clone());
        let on = |domain: &str| SamlAppInput {
            domain: domain.into(),
            ..events()
        };
        match apps.create(acme, on("sso.beta.org"), T0).await {
            Err(SamlError::Invalid(invalid)) => assert_eq!(invalid.field, "domain"),
            other => panic!("{:?}", other.map(|app| app.app_id)),
        }
        let app = apps
            .create(acme, on("SSO-Test.acme.org"), T0)
            .await
            .unwrap();
        assert_eq!(app.settings.domain.as_deref(), Some("sso-test.acme.org"));
        let on_it = apps.on_domain(acme, "sso-test.acme.org").await.unwrap();
        assert_eq!(on_it.len(), 1);
        let moved = apps.update(acme, &app.app_id, on(""), T0).await.unwrap();
        assert_eq!(moved.settings.domain, None);
        assert!(apps
            .on_domain(acme, "sso-test.acme.org")
            .await
            .unwrap()
            .is_empty());
    })
    .await;
}

//! One storage suite, run against SQLite and PostgreSQL: every query the engines rely on.

// Helpers outside #[test] functions unwrap too: a panic is the failure report we want.
#![allow(clippy::unwrap_used)]

use vestibule_domain::{CloudId, Email, Role, StaffId, Timestamp};
use vestibule_storage::testing::for_each_backend;
use vestibule_storage::{Conflict, NewStaff, SessionRecord, SetupTokenRecord, StorageError};

const NOW: Timestamp = Timestamp(1_800_000_000);

fn cloud(id: &str) -> CloudId {
    CloudId::parse(id).expect("valid cloud id")
}

fn email(address: &str) -> Email {
    Email::parse(address).expect("valid e-mail")
}

fn new_staff(address: &str, role: Role, password_hash: Option<&str>) -> NewStaff {
    NewStaff {
        email: email(address),
        role,
        password_hash: password_hash.map(str::to_string),
    }
}

#[tokio::test]
async fn tenants_are_searched_and_paged_by_cloud_id() {
    for_each_backend(|db| async move {
        let store = db.store();
        for i in 0..25 {
            let name = if i % 5 == 0 {
                format!("Society 100% {i}")
            } else {
                format!("Association {i}")
            };
            store
                .create_tenant(&cloud(&format!("t{i:02}-org")), &name, NOW)
                .await
                .unwrap();
        }
        let ids = |page: &[vestibule_domain::Tenant]| -> Vec<String> {
            page.iter().map(|t| t.cloud_id.to_string()).collect()
        };

        // Pages in Cloud ID order, with the count of all.
        let (first, total) = store.search_tenants("", 0, 10).await.unwrap();
        assert_eq!(total, 25);
        assert_eq!(ids(&first)[..2], ["t00-org", "t01-org"]);
        let (last, _) = store.search_tenants("", 20, 10).await.unwrap();
        assert_eq!(
            ids(&last),
            ["t20-org", "t21-org", "t22-org", "t23-org", "t24-org"]
        );
        let (beyond, total) = store.search_tenants("", 30, 10).await.unwrap();
        assert!(beyond.is_empty());
        assert_eq!(total, 25);

        // By display name or Cloud ID, any case; LIKE's wildcards match only themselves.
        let (societies, total) = store.search_tenants("  SOCIETY ", 0, 10).await.unwrap();
        assert_eq!(total, 5);
        assert_eq!(ids(&societies)[0], "t00-org");
        let (percent, total) = store.search_tenants("100%", 0, 10).await.unwrap();
        assert_eq!((percent.len(), total), (5, 5));
        let (none, total) = store.search_tenants("%", 0, 10).await.unwrap();
        assert_eq!((none.len(), total), (5, 5), "only names with a literal %");
        let (underscore, total) = store.search_tenants("t_1", 0, 10).await.unwrap();
        assert_eq!((underscore.len(), total), (0, 0));
        let (by_id, total) = store.search_tenants("T13", 0, 10).await.unwrap();
        assert_eq!((ids(&by_id), total), (vec!["t13-org".to_string()], 1));
    })
    .await;
}

#[tokio::test]
async fn tenants_are_created_listed_and_unique() {
    for_each_backend(|db| async move {
        let store = db.store();
        let acme = store
            .create_tenant(&cloud("acme"), "Acme Association", NOW)
            .await
            .unwrap();
        store
            .create_tenant(&cloud("beta"), "Beta Society", NOW)
            .await
            .unwrap();
        assert_eq!(acme.cloud_id, cloud("acme"));
        assert_eq!(acme.created_at, NOW);

        let duplicate = store.create_tenant(&cloud("acme"), "Another", NOW).await;
        assert!(
            matches!(duplicate, Err(StorageError::Conflict(Conflict::CloudId))),
            "{duplicate:?}"
        );

        let listed: Vec<String> = store
            .list_tenants()
            .await
            .unwrap()
            .into_iter()
            .map(|t| t.cloud_id.to_string())
            .collect();
        assert_eq!(listed, ["acme", "beta"]);

        assert!(store.rename_tenant(acme.id, "Acme Assoc.").await.unwrap());
        let renamed = store
            .tenant_by_cloud_id(&cloud("acme"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(renamed.display_name, "Acme Assoc.");
        assert!(store
            .tenant_by_cloud_id(&cloud("nobody"))
            .await
            .unwrap()
            .is_none());
    })
    .await;
}

#[tokio::test]
async fn staff_are_scoped_to_their_tenant() {
    for_each_backend(|db| async move {
        let store = db.store();
        let acme = store
            .create_tenant(&cloud("acme"), "Acme", NOW)
            .await
            .unwrap();
        let beta = store
            .create_tenant(&cloud("beta"), "Beta", NOW)
            .await
            .unwrap();
        let admin = store
            .create_staff(
                &new_staff("admin@acme.org", Role::TenantAdmin(acme.id), Some("hash")),
                NOW,
            )
            .await
            .unwrap();
        assert_eq!(admin.cloud_id, Some(cloud("acme")));
        assert!(admin.has_password);
        store
            .create_staff(
                &new_staff("admin@beta.org", Role::TenantAdmin(beta.id), None),
                NOW,
            )
            .await
            .unwrap();
        let operator = store
            .create_staff(&new_staff("ops@vestibule.test", Role::Operator, None), NOW)
            .await
            .unwrap();
        assert_eq!(operator.role, Role::Operator);
        assert_eq!(operator.cloud_id, None);

        let duplicate = store
            .create_staff(&new_staff("ADMIN@acme.org", Role::Operator, None), NOW)
            .await;
        assert!(
            matches!(duplicate, Err(StorageError::Conflict(Conflict::StaffEmail))),
            "{duplicate:?}"
        );

        let acme_staff: Vec<String> = store
            .list_tenant_staff(acme.id)
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.email.to_string())
            .collect();
        assert_eq!(acme_staff, ["admin@acme.org"]);
        assert_eq!(store.list_operators().await.unwrap().len(), 1);
        assert_eq!(store.staff_count().await.unwrap(), 3);

        let credentials = store
            .staff_credentials(&email("admin@acme.org"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(credentials.password_hash.as_deref(), Some("hash"));
        assert!(store
            .staff_credentials(&email("nobody@acme.org"))
            .await
            .unwrap()
            .is_none());
    })
    .await;
}

#[tokio::test]
async fn sessions_are_stored_touched_and_expired() {
    for_each_backend(|db| async move {
        let store = db.store();
        let staff = store
            .create_staff(
                &new_staff("ops@vestibule.test", Role::Operator, Some("old")),
                NOW,
            )
            .await
            .unwrap();
        let session = SessionRecord {
            token_hash: "a".repeat(64),
            staff_id: staff.id,
            csrf_token: "csrf".into(),
            created_at: NOW,
            last_seen_at: NOW,
            expires_at: Timestamp(NOW.0 + 3600),
        };
        store.insert_session(&session).await.unwrap();
        assert_eq!(
            store.session(&session.token_hash).await.unwrap(),
            Some(session.clone())
        );

        store
            .touch_session(&session.token_hash, Timestamp(NOW.0 + 60))
            .await
            .unwrap();
        let touched = store.session(&session.token_hash).await.unwrap().unwrap();
        assert_eq!(touched.last_seen_at, Timestamp(NOW.0 + 60));

        // Idle for too long: removed by the sweep.
        let removed = store
            .delete_stale_sessions(Timestamp(NOW.0 + 120), Timestamp(NOW.0 + 61))
            .await
            .unwrap();
        assert_eq!(removed, 1);
        assert!(store.session(&session.token_hash).await.unwrap().is_none());

        // A password change ends every session of that person.
        store.insert_session(&session).await.unwrap();
        assert!(store.set_staff_password(staff.id, "new").await.unwrap());
        assert!(store.session(&session.token_hash).await.unwrap().is_none());
        assert!(!store.set_staff_password(StaffId(9_999), "x").await.unwrap());
    })
    .await;
}

#[tokio::test]
async fn bootstrap_link_works_once_and_only_without_operators() {
    for_each_backend(|db| async move {
        let store = db.store();
        let link = |hash: &str| SetupTokenRecord {
            token_hash: hash.into(),
            staff_id: None,
            created_at: NOW,
            expires_at: Timestamp(NOW.0 + 600),
        };
        store.insert_setup_token(&link("first")).await.unwrap();
        store.insert_setup_token(&link("second")).await.unwrap();
        assert!(store.setup_token("first", NOW).await.unwrap().is_some());
        assert!(store
            .setup_token("first", Timestamp(NOW.0 + 601))
            .await
            .unwrap()
            .is_none());

        let expired = store
            .complete_bootstrap("first", &email("late@x.org"), "h", Timestamp(NOW.0 + 601))
            .await
            .unwrap();
        assert!(expired.is_none());

        let operator = store
            .complete_bootstrap("first", &email("ops@x.org"), "h", NOW)
            .await
            .unwrap()
            .expect("first use works");
        assert_eq!(operator.role, Role::Operator);
        let again = store
            .complete_bootstrap("first", &email("ops2@x.org"), "h", NOW)
            .await
            .unwrap();
        assert!(again.is_none(), "a link works once");
        let other = store
            .complete_bootstrap("second", &email("ops3@x.org"), "h", NOW)
            .await
            .unwrap();
        assert!(other.is_none(), "no second first operator");
        assert_eq!(store.staff_count().await.unwrap(), 1);

        store.delete_bootstrap_tokens().await.unwrap();
        assert!(store.setup_token("second", NOW).await.unwrap().is_none());
    })
    .await;
}

#[tokio::test]
async fn invitation_link_sets_the_password_once() {
    for_each_backend(|db| async move {
        let store = db.store();
        let acme = store
            .create_tenant(&cloud("acme"), "Acme", NOW)
            .await
            .unwrap();
        let invited = store
            .create_staff(
                &new_staff("new@acme.org", Role::TenantAdmin(acme.id), None),
                NOW,
            )
            .await
            .unwrap();
        store
            .insert_setup_token(&SetupTokenRecord {
                token_hash: "invite".into(),
                staff_id: Some(invited.id),
                created_at: NOW,
                expires_at: Timestamp(NOW.0 + 600),
            })
            .await
            .unwrap();
        assert!(store
            .complete_bootstrap("invite", &email("x@y.org"), "h", NOW)
            .await
            .unwrap()
            .is_none());
        let done = store
            .complete_invitation("invite", "hash", NOW)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(done.id, invited.id);
        assert!(done.has_password);
        assert!(store
            .complete_invitation("invite", "other", NOW)
            .await
            .unwrap()
            .is_none());
    })
    .await;
}

#[tokio::test]
async fn sign_in_failures_are_counted_per_bucket_and_forgotten() {
    for_each_backend(|db| async move {
        let store = db.store();
        for offset in 0..3 {
            store
                .record_sign_in_failure(
                    &["account:a", "ip:1"],
                    Timestamp(NOW.0 + offset),
                    Timestamp(0),
                )
                .await
                .unwrap();
        }
        store
            .record_sign_in_failure(&["ip:1"], Timestamp(NOW.0 + 10), Timestamp(0))
            .await
            .unwrap();
        assert_eq!(
            store.sign_in_failures("account:a", NOW).await.unwrap(),
            (3, Some(NOW))
        );
        assert_eq!(
            store
                .sign_in_failures("ip:1", Timestamp(NOW.0 + 1))
                .await
                .unwrap()
                .0,
            3
        );
        assert_eq!(
            store.sign_in_failures("ip:2", NOW).await.unwrap(),
            (0, None)
        );

        store.clear_sign_in_failures("account:a").await.unwrap();
        assert_eq!(store.sign_in_failures("account:a", NOW).await.unwrap().0, 0);

        // Recording prunes what is older than the window.
        store
            .record_sign_in_failure(&["ip:2"], Timestamp(NOW.0 + 100), Timestamp(NOW.0 + 50))
            .await
            .unwrap();
        assert_eq!(
            store
                .sign_in_failures("ip:1", Timestamp(0))
                .await
                .unwrap()
                .0,
            0
        );
    })
    .await;
}

/// A Cloud ID holds up to five domains, one of them primary: the first claimed, or the one the
/// admin chose; when the primary is released its role passes to the oldest other domain.
#[tokio::test]
async fn a_tenant_holds_several_domains_and_exactly_one_primary() {
    use vestibule_storage::MAX_DOMAINS_PER_TENANT;

    for_each_backend(|db| async move {
        let store = db.store();
        let acme = store
            .create_tenant(&cloud("acme"), "Acme", NOW)
            .await
            .unwrap()
            .id;
        let beta = store
            .create_tenant(&cloud("beta"), "Beta", NOW)
            .await
            .unwrap()
            .id;
        let names = |domains: Vec<vestibule_storage::DomainRecord>| -> Vec<(String, bool)> {
            domains
                .into_iter()
                .map(|d| (d.name, d.is_primary))
                .collect()
        };
        let live = store.claim_domain(acme, "sso.acme.org", NOW).await.unwrap();
        let test = store
            .claim_domain(acme, "sso-test.acme.org", NOW)
            .await
            .unwrap();
        assert!(live.is_primary && !test.is_primary);
        assert_eq!(
            names(store.domains_for_tenant(acme).await.unwrap()),
            [
                ("sso.acme.org".into(), true),
                ("sso-test.acme.org".into(), false)
            ]
        );
        assert_eq!(
            store.domain_for_tenant(acme).await.unwrap().unwrap().name,
            "sso.acme.org"
        );
        for n in 3..=MAX_DOMAINS_PER_TENANT {
            store
                .claim_domain(acme, &format!("sso{n}.acme.org"), NOW)
                .await
                .unwrap();
        }
        assert!(matches!(
            store.claim_domain(acme, "one-too-many.acme.org", NOW).await,
            Err(StorageError::Conflict(Conflict::TenantDomain))
        ));
        // Another tenant's domains are out of reach.
        assert!(!store
            .make_primary_domain(beta, "sso.acme.org")
            .await
            .unwrap());
        assert_eq!(
            store
                .release_domain(beta, Some("sso.acme.org"))
                .await
                .unwrap(),
            None
        );

        assert!(store
            .make_primary_domain(acme, "sso-test.acme.org")
            .await
            .unwrap());
        let domains = store.domains_for_tenant(acme).await.unwrap();
        assert_eq!(domains.iter().filter(|d| d.is_primary).count(), 1);
        assert_eq!(domains[0].name, "sso-test.acme.org");

        // The primary released: the oldest remaining domain takes over.
        let released = store
            .release_domain(acme, Some("sso-test.acme.org"))
            .await
            .unwrap();
        assert_eq!(released.as_deref(), Some("sso-test.acme.org"));
        assert_eq!(
            store.domain_for_tenant(acme).await.unwrap().unwrap().name,
            "sso.acme.org"
        );
        assert_eq!(
            store
                .release_domain(acme, Some("nope.acme.org"))
                .await
                .unwrap(),
            None
        );
        // No name: the primary.
        let released = store.release_domain(acme, None).await.unwrap();
        assert_eq!(released.as_deref(), Some("sso.acme.org"));
        let domains = store.domains_for_tenant(acme).await.unwrap();
        assert_eq!(domains.len(), (MAX_DOMAINS_PER_TENANT - 2) as usize);
        assert_eq!(
            (domains[0].name.as_str(), domains[0].is_primary),
            ("sso3.acme.org", true)
        );
        assert_eq!(domains.iter().filter(|d| d.is_primary).count(), 1);
    })
    .await;
}

#[tokio::test]
async fn domains_are_unique_leased_once_and_released_with_their_certificates() {
    use vestibule_domain::{DomainState, ProvisioningPhase, Seconds};
    use vestibule_storage::{CertificateRecord, JobOutcome};

    for_each_backend(|db| async move {
        let store = db.store();
        let acme = store
            .create_tenant(&cloud("acme"), "Acme", NOW)
            .await
            .unwrap();
        let beta = store
            .create_tenant(&cloud("beta"), "Beta", NOW)
            .await
            .unwrap();

        let claimed = store
            .claim_domain(acme.id, "sso.acme.org", NOW)
            .await
            .unwrap();
        assert_eq!(claimed.state, DomainState::Provisioning);
        assert_eq!(claimed.phase, ProvisioningPhase::DnsCheck);
        // A name routes to its tenant only once it is Online.
        let served = store.tenant_by_domain_name("sso.acme.org").await.unwrap();
        assert_eq!(served.map(|(t, _)| t.id), None);
        assert!(store
            .tenant_by_domain_name("sso.beta.org")
            .await
            .unwrap()
            .is_none());
        assert!(matches!(
            store.claim_domain(beta.id, "sso.acme.org", NOW).await,
            Err(StorageError::Conflict(Conflict::DomainName))
        ));

        // One node wins the lease; the other sees nothing due until it runs out.
        let waiting = vestibule_storage::JobQueue {
            waiting: 1,
            running: 0,
        };
        assert_eq!(store.job_queue(NOW).await.unwrap(), waiting);
        let lease = NOW + Seconds(60);
        let first = store.lease_due_job("node-a", NOW, lease).await.unwrap();
        assert_eq!(first.map(|d| d.id), Some(claimed.id));
        let running = vestibule_storage::JobQueue {
            waiting: 0,
            running: 1,
        };
        assert_eq!(store.job_queue(NOW).await.unwrap(), running);
        assert!(store
            .lease_due_job("node-b", NOW, lease)
            .await
            .unwrap()
            .is_none());
        assert!(store
            .report_job_progress(
                claimed.id,
                "node-a",
                ProvisioningPhase::Challenge,
                "",
                NOW,
                lease
            )
            .await
            .unwrap());
        assert!(!store
            .report_job_progress(
                claimed.id,
                "node-b",
                ProvisioningPhase::Challenge,
                "",
                NOW,
                lease
            )
            .await
            .unwrap());
        // The worker's heartbeat keeps the lease; another node's cannot.
        assert!(store
            .renew_lease(claimed.id, "node-a", lease + Seconds(60))
            .await
            .unwrap());
        assert!(!store
            .renew_lease(claimed.id, "node-b", lease + Seconds(60))
            .await
            .unwrap());
        assert!(store
            .lease_due_job("node-b", lease + Seconds(1), lease + Seconds(120))
            .await
            .unwrap()
            .is_none());

        store
            .put_challenge("token-1", "token-1.thumb", claimed.id, NOW + Seconds(3600))
            .await
            .unwrap();
        assert_eq!(
            store
                .challenge_answer("token-1", NOW)
                .await
                .unwrap()
                .as_deref(),
            Some("token-1.thumb")
        );
        assert!(store
            .challenge_answer("token-1", NOW + Seconds(7200))
            .await
            .unwrap()
            .is_none());

        let certificate = CertificateRecord {
            domain_id: claimed.id,
            domain: "sso.acme.org".into(),
            chain_pem: "chain".into(),
            key_sealed: "v1:sealed".into(),
            not_before: NOW,
            not_after: NOW + Seconds(90 * 86_400),
            issued_at: NOW,
        };
        // Every node hears that the certificates changed: PostgreSQL notifies, and on SQLite
        // the generation counter another process (the command line) also moves is polled.
        let mut changes = store.certificate_changes().await.unwrap();
        assert!(changes.is_some());
        let before = store.certificate_generation().await.unwrap();
        store.put_certificate(&certificate).await.unwrap();
        if let Some(changes) = changes.as_mut() {
            tokio::time::timeout(std::time::Duration::from_secs(10), changes.next())
                .await
                .expect("a notification of the new certificate")
                .unwrap();
        }
        assert_eq!(store.certificate_generation().await.unwrap(), before + 1);
        store
            .put_certificate(&CertificateRecord {
                chain_pem: "renewed".into(),
                ..certificate.clone()
            })
            .await
            .unwrap();
        assert_eq!(store.all_certificates().await.unwrap().len(), 1);
        assert_eq!(
            store.certificate_expiries().await.unwrap(),
            vec![("sso.acme.org".to_string(), NOW + Seconds(90 * 86_400))]
        );
        let outcome = JobOutcome {
            state: DomainState::Online,
            phase: ProvisioningPhase::Online,
            message: String::new(),
            attempts: 0,
            next_attempt_at: NOW + Seconds(60 * 86_400),
        };
        assert!(!store
            .finish_job(claimed.id, "node-b", &outcome, NOW)
            .await
            .unwrap());
        assert!(store
            .finish_job(claimed.id, "node-a", &outcome, NOW)
            .await
            .unwrap());
        let served = store.tenant_by_domain_name("sso.acme.org").await.unwrap();
        assert_eq!(
            served.map(|(t, address)| (t.id, address)),
            Some((
                acme.id,
                vestibule_domain::SiteAddress::Primary("sso.acme.org".into())
            ))
        );
        store
            .record_domain_check(claimed.id, DomainState::Offline, "CNAME gone", NOW)
            .await
            .unwrap();
        let checked = store.domain_for_tenant(acme.id).await.unwrap().unwrap();
        assert_eq!(checked.state, DomainState::Offline);
        let served = store.tenant_by_domain_name("sso.acme.org").await.unwrap();
        assert_eq!(
            served.map(|(t, _)| t.id),
            None,
            "an Offline domain routes nowhere"
        );
        assert_eq!(checked.check_message, "CNAME gone");
        assert_eq!(store.provisioned_domains().await.unwrap().len(), 1);
        // One node per round runs the monitoring check.
        let next_round = NOW + Seconds(300);
        assert!(store
            .claim_domain_check(claimed.id, next_round, next_round - Seconds(200))
            .await
            .unwrap());
        assert!(!store
            .claim_domain_check(claimed.id, next_round, next_round - Seconds(200))
            .await
            .unwrap());
        assert!(store
            .lease_due_job("node-b", NOW, lease)
            .await
            .unwrap()
            .is_none());

        assert_eq!(
            store
                .release_domain(acme.id, None)
                .await
                .unwrap()
                .as_deref(),
            Some("sso.acme.org")
        );
        if let Some(changes) = changes.as_mut() {
            // The renewal above, then the release: two notifications on PostgreSQL; SQLite's
            // poll sees both in one look.
            let heard = if store.backend() == vestibule_storage::Backend::Postgres {
                2
            } else {
                1
            };
            for _ in 0..heard {
                tokio::time::timeout(std::time::Duration::from_secs(10), changes.next())
                    .await
                    .expect("a notification of the change")
                    .unwrap();
            }
        }
        assert!(store.all_certificates().await.unwrap().is_empty());
        assert!(store
            .challenge_answer("token-1", NOW)
            .await
            .unwrap()
            .is_none());
        store
            .claim_domain(beta.id, "sso.acme.org", NOW)
            .await
            .unwrap();

        // A failed attempt survives a refused new claim, and gives way to an accepted one.
        let failed = store
            .claim_domain(acme.id, "sso.acme-old.org", NOW)
            .await
            .unwrap();
        let failure = JobOutcome {
            state: DomainState::Failed,
            phase: ProvisioningPhase::DnsCheck,
            message: "no CNAME".into(),
            attempts: 1,
            next_attempt_at: NOW,
        };
        // Both queued claims (beta's and this one) are due; node-a takes them.
        for _ in 0..2 {
            store
                .lease_due_job("node-a", NOW, lease)
                .await
                .unwrap()
                .unwrap();
        }
        assert!(store
            .finish_job(failed.id, "node-a", &failure, NOW)
            .await
            .unwrap());
        assert!(matches!(
            store.claim_domain(acme.id, "sso.acme.org", NOW).await,
            Err(StorageError::Conflict(Conflict::DomainName))
        ));
        let kept = store.domain_for_tenant(acme.id).await.unwrap().unwrap();
        assert_eq!(
            (kept.state, kept.message.as_str()),
            (DomainState::Failed, "no CNAME")
        );
        // Nor does a failed attempt hold its name against another tenant.
        let gamma = store
            .create_tenant(&cloud("gamma"), "Gamma", NOW)
            .await
            .unwrap();
        let taken_over = store
            .claim_domain(gamma.id, "sso.acme-old.org", NOW)
            .await
            .unwrap();
        assert_eq!(taken_over.tenant, gamma.id);
        assert!(store.domain_for_tenant(acme.id).await.unwrap().is_none());
        let replaced = store
            .claim_domain(acme.id, "sso.acme-new.org", NOW)
            .await
            .unwrap();
        assert_eq!(replaced.state, DomainState::Provisioning);

        let sealed = store
            .put_acme_account("https://ca/dir", "first", NOW)
            .await
            .unwrap();
        let again = store
            .put_acme_account("https://ca/dir", "second", NOW)
            .await
            .unwrap();
        assert_eq!((sealed.as_str(), again.as_str()), ("first", "first"));
    })
    .await;
}

#[tokio::test]
async fn tenant_settings_are_saved_whole_and_scoped_to_their_tenant() {
    use vestibule_storage::SettingsRecord;

    for_each_backend(|db| async move {
        let store = db.store();
        let acme = store
            .create_tenant(&cloud("acme"), "Acme", NOW)
            .await
            .unwrap();
        let beta = store
            .create_tenant(&cloud("beta"), "Beta", NOW)
            .await
            .unwrap();
        assert!(store.tenant_settings(acme.id).await.unwrap().is_none());
        let first = SettingsRecord {
            imis_base_url: "https://members.acme.org".into(),
            oidc_client_id: "oidc".into(),
            oidc_client_secret_sealed: "v1:sealed".into(),
            profile_iqa: "$/Vestibule/MemberProfile".into(),
            brand_colour: "#1f5fbf".into(),
            ..SettingsRecord::empty(NOW)
        };
        store.put_tenant_settings(acme.id, &first).await.unwrap();
        assert_eq!(
            store.tenant_settings(acme.id).await.unwrap(),
            Some(first.clone())
        );
        assert!(store.tenant_settings(beta.id).await.unwrap().is_none());
        let second = SettingsRecord {
            oidc_client_secret_sealed: String::new(),
            sign_in_text: "Welcome".into(),
            ..first
        };
        store.put_tenant_settings(acme.id, &second).await.unwrap();
        assert_eq!(store.tenant_settings(acme.id).await.unwrap(), Some(second));
    })
    .await;
}

#[tokio::test]
async fn saml_request_ids_pending_requests_and_participants() {
    use vestibule_storage::{SamlParticipantRecord, SamlPendingRecord};
    for_each_backend(|db| async move {
        let store = db.store();
        let acme = store
            .create_tenant(&cloud("acme"), "Acme", NOW)
            .await
            .unwrap()
            .id;
        let beta = store
            .create_tenant(&cloud("beta"), "Beta", NOW)
            .await
            .unwrap()
            .id;
        let later = NOW + vestibule_domain::Seconds(600);

        // Request IDs: once per issuer and tenant, forgotten after their time.
        assert!(store
            .remember_saml_request_id(acme, "sp", "_r1", later, NOW)
            .await
            .unwrap());
        assert!(!store
            .remember_saml_request_id(acme, "sp", "_r1", later, NOW)
            .await
            .unwrap());
        assert!(store
            .remember_saml_request_id(acme, "sp2", "_r1", later, NOW)
            .await
            .unwrap());
        assert!(store
            .remember_saml_request_id(beta, "sp", "_r1", later, NOW)
            .await
            .unwrap());
        let after = later + vestibule_domain::Seconds(1);
        assert!(store
            .remember_saml_request_id(
                acme,
                "sp",
                "_r1",
                after + vestibule_domain::Seconds(600),
                after
            )
            .await
            .unwrap());

        // Pending requests: the tenant's own, until taken once or expired.
        let pending = SamlPendingRecord {
            token_hash: "hash-1".into(),
            tenant: acme,
            request: "{}".into(),
            created_at: NOW,
            expires_at: later,
        };
        store.insert_saml_pending(&pending).await.unwrap();
        assert_eq!(
            store.saml_pending(acme, "hash-1", NOW).await.unwrap(),
            Some(pending)
        );
        assert_eq!(store.saml_pending(beta, "hash-1", NOW).await.unwrap(), None);
        assert_eq!(
            store.saml_pending(acme, "hash-1", later).await.unwrap(),
            None
        );
        assert!(!store.take_saml_pending(beta, "hash-1").await.unwrap());
        assert!(store.take_saml_pending(acme, "hash-1").await.unwrap());
        assert!(!store.take_saml_pending(acme, "hash-1").await.unwrap());

        // Persistent NameIDs: the first candidate stays.
        let first = store
            .saml_persistent_id(acme, "app1", "directory:jane", "p-1", NOW)
            .await
            .unwrap();
        let again = store
            .saml_persistent_id(acme, "app1", "directory:jane", "p-2", NOW)
            .await
            .unwrap();
        let other_app = store
            .saml_persistent_id(acme, "app2", "directory:jane", "p-3", NOW)
            .await
            .unwrap();
        assert_eq!(
            (first.as_str(), again.as_str(), other_app.as_str()),
            ("p-1", "p-1", "p-3")
        );

        // Participants: one per session and app, found by session.
        let participant = |session: &str, app: &str, index: &str| SamlParticipantRecord {
            session_hash: session.into(),
            tenant: acme,
            app_id: app.into(),
            name_id: "jane@acme.test".into(),
            name_id_format: "email".into(),
            session_index: index.into(),
            created_at: NOW,
            expires_at: later,
        };
        let stored = store
            .saml_participant_or_insert(&participant("s1", "app1", "i1"))
            .await
            .unwrap();
        let kept = store
            .saml_participant_or_insert(&participant("s1", "app1", "i2"))
            .await
            .unwrap();
        assert_eq!(stored, kept);
        store
            .saml_participant_or_insert(&participant("s1", "app2", "i3"))
            .await
            .unwrap();
        store
            .saml_participant_or_insert(&participant("s2", "app1", "i4"))
            .await
            .unwrap();
        assert_eq!(store.saml_participants("s1").await.unwrap().len(), 2);
        store.delete_saml_participants("s1", NOW).await.unwrap();
        assert!(store.saml_participants("s1").await.unwrap().is_empty());
        assert_eq!(store.saml_participants("s2").await.unwrap().len(), 1);
        store.delete_saml_participants("none", after).await.unwrap();
        assert!(store.saml_participants("s2").await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn audit_events_are_per_tenant_newest_first_and_filtered() {
    use vestibule_domain::Seconds;
    use vestibule_storage::{AuditEventRecord, AuditFilter};
    for_each_backend(|db| async move {
        let store = db.store();
        let acme = store
            .create_tenant(&cloud("acme"), "Acme", NOW)
            .await
            .unwrap();
        let beta = store
            .create_tenant(&cloud("beta"), "Beta", NOW)
            .await
            .unwrap();
        let event = |tenant, at: i64, actor: &str, action: &str| AuditEventRecord {
            id: 0,
            tenant: Some(tenant),
            at: NOW + Seconds(at),
            actor: actor.into(),
            action: action.into(),
            target: "Events (abc)".into(),
            before: (action != "saml_app.create").then(|| "{\"name\":\"Old\"}".into()),
            after: Some("{\"name\":\"New\"}".into()),
        };
        for record in [
            event(acme.id, 0, "Admin@Acme.test", "saml_app.create"),
            event(acme.id, 10, "admin@acme.test", "saml_app.update"),
            event(acme.id, 20, "ops@vestibule.test", "settings.save"),
            event(acme.id, 30, "admin@acme.test", "saml_apps.import"),
            event(beta.id, 40, "admin@beta.test", "saml_app.update"),
        ] {
            store.record_audit_event(&record).await.unwrap();
        }
        let all = store
            .audit_events(acme.id, &AuditFilter::default(), 100)
            .await
            .unwrap();
        let actions: Vec<&str> = all.iter().map(|e| e.action.as_str()).collect();
        assert_eq!(
            actions,
            [
                "saml_apps.import",
                "settings.save",
                "saml_app.update",
                "saml_app.create"
            ]
        );
        assert_eq!(all[3].before, None);
        assert_eq!(all[2].before.as_deref(), Some("{\"name\":\"Old\"}"));

        let filter = |action: Option<&str>, actor: Option<&str>| AuditFilter {
            action: action.map(str::to_string),
            actor: actor.map(str::to_string),
            ..AuditFilter::default()
        };
        // `_` in a filter is a letter, not a wildcard: `saml_app` does not find `samlXapp`, and
        // does find `saml_apps.import` as a prefix.
        let saml = store
            .audit_events(acme.id, &filter(Some("saml_app."), None), 100)
            .await
            .unwrap();
        assert_eq!(saml.len(), 2);
        let by_admin = store
            .audit_events(acme.id, &filter(None, Some("ADMIN@acme")), 100)
            .await
            .unwrap();
        assert_eq!(by_admin.len(), 3, "actors match without case");
        let window = AuditFilter {
            since: Some(NOW + Seconds(10)),
            until: Some(NOW + Seconds(30)),
            ..AuditFilter::default()
        };
        let windowed = store.audit_events(acme.id, &window, 100).await.unwrap();
        assert_eq!(windowed.len(), 2);
        assert_eq!(
            store
                .audit_events(acme.id, &AuditFilter::default(), 1)
                .await
                .unwrap()[0]
                .action,
            "saml_apps.import"
        );
        // Pages follow each other by id: the next page starts below the last one shown.
        let older = AuditFilter {
            older_than: Some(all[1].id),
            ..AuditFilter::default()
        };
        let next_page = store.audit_events(acme.id, &older, 100).await.unwrap();
        assert_eq!(next_page, all[2..].to_vec());
        let percent = store
            .audit_events(acme.id, &filter(Some("%"), None), 100)
            .await
            .unwrap();
        assert!(percent.is_empty(), "% is not a wildcard either");
    })
    .await;
}

#[tokio::test]
async fn sign_in_events_are_searched_by_member_or_application_in_any_case_and_literally() {
    for_each_backend(|db| async move {
        let store = db.store();
        let now = Timestamp(1_800_000_000);
        let acme = store
            .create_tenant(&"acme".parse::<CloudId>().unwrap(), "Acme", now)
            .await
            .unwrap()
            .id;
        for (offset, member) in ["Jane.Member", "omar", "jane_2", "janeX2"]
            .iter()
            .enumerate()
        {
            let event = vestibule_storage::SignInEventRecord {
                at: Timestamp(now.0 + offset as i64),
                source: "imis".into(),
                member: member.to_string(),
                application: if offset == 1 {
                    "SAML app Learning (lms)".into()
                } else {
                    String::new()
                },
                outcome: "signed in".into(),
                detail: String::new(),
            };
            store.record_sign_in_event(acme, &event).await.unwrap();
        }
        let members = |found: Vec<vestibule_storage::SignInEventRecord>| {
            found.into_iter().map(|e| e.member).collect::<Vec<_>>()
        };
        let all = store.sign_in_events(acme, None, 10).await.unwrap();
        assert_eq!(members(all), ["janeX2", "jane_2", "omar", "Jane.Member"]);
        let jane = store.sign_in_events(acme, Some("JANE"), 10).await.unwrap();
        assert_eq!(members(jane), ["janeX2", "jane_2", "Jane.Member"]);
        // `_` is a character here, not LIKE's wildcard: janeX2 does not match.
        let underscore = store.sign_in_events(acme, Some("jane_"), 10).await.unwrap();
        assert_eq!(members(underscore), ["jane_2"]);
        let percent = store.sign_in_events(acme, Some("%"), 10).await.unwrap();
        assert!(percent.is_empty());
        // The application is kept and searched like the member.
        let learning = store
            .sign_in_events(acme, Some("learning"), 10)
            .await
            .unwrap();
        assert_eq!(learning.len(), 1);
        assert_eq!(learning[0].member, "omar");
        assert_eq!(learning[0].application, "SAML app Learning (lms)");
    })
    .await;
}

#[tokio::test]
async fn tenant_progress_reads_each_step_from_its_own_table_and_tenant() {
    use vestibule_domain::Seconds;
    use vestibule_storage::{AuditEventRecord, SettingsRecord};
    for_each_backend(|db| async move {
        let store = db.store();
        let acme = store
            .create_tenant(&cloud("acme"), "Acme", NOW)
            .await
            .unwrap()
            .id;
        let beta = store
            .create_tenant(&cloud("beta"), "Beta", NOW)
            .await
            .unwrap()
            .id;

        let nothing = store.tenant_progress(acme).await.unwrap();
        assert_eq!(nothing.domain, None);
        assert_eq!(nothing.identity_source, "imis");
        assert!(!nothing.imis_configured);
        assert_eq!(nothing.imis_check, None);
        assert_eq!(
            (
                nothing.oidc_apps,
                nothing.saml_apps,
                nothing.directory_members
            ),
            (0, 0, 0)
        );
        assert_eq!(nothing.last_sign_in, None);

        // Beta's progress, which must not show on Acme's.
        store.claim_domain(beta, "sso.beta.org", NOW).await.unwrap();
        let signed_in = |tenant, at: Timestamp| AuditEventRecord {
            id: 0,
            tenant: Some(tenant),
            at,
            actor: "jo".into(),
            action: "sign_in.succeeded".into(),
            target: "SAML app Events (abc)".into(),
            before: None,
            after: Some("{\"outcome\":\"signed in\"}".into()),
        };
        store
            .record_audit_event(&signed_in(beta, NOW + Seconds(5)))
            .await
            .unwrap();
        assert_eq!(store.tenant_progress(acme).await.unwrap(), nothing);

        store.claim_domain(acme, "sso.acme.org", NOW).await.unwrap();
        let settings = SettingsRecord {
            imis_base_url: "https://members.acme.org".into(),
            ..SettingsRecord::empty(NOW)
        };
        store.put_tenant_settings(acme, &settings).await.unwrap();
        store
            .record_imis_check(acme, Some((NOW, true)))
            .await
            .unwrap();
        let failed = AuditEventRecord {
            action: "sign_in.failed".into(),
            ..signed_in(acme, NOW + Seconds(20))
        };
        store
            .record_audit_event(&signed_in(acme, NOW + Seconds(10)))
            .await
            .unwrap();
        store.record_audit_event(&failed).await.unwrap();

        let progress = store.tenant_progress(acme).await.unwrap();
        assert_eq!(
            progress.domain,
            Some(("sso.acme.org".into(), "provisioning".into()))
        );
        assert!(progress.imis_configured);
        assert_eq!(progress.imis_check, Some((NOW, true)));
        assert_eq!(
            progress.last_sign_in,
            Some(NOW + Seconds(10)),
            "successes only"
        );

        // Saving Settings again keeps the check (the service clears it when the connection
        // changed); forgetting it leaves none.
        store.put_tenant_settings(acme, &settings).await.unwrap();
        assert_eq!(
            store.tenant_progress(acme).await.unwrap().imis_check,
            Some((NOW, true))
        );
        store.record_imis_check(acme, None).await.unwrap();
        assert_eq!(store.tenant_progress(acme).await.unwrap().imis_check, None);
    })
    .await;
}

#[tokio::test]
async fn protocol_exchanges_keep_the_latest_per_app_and_forget_details_on_time() {
    use vestibule_domain::Seconds;
    use vestibule_storage::{ExchangeApp, ExchangeRecord};
    for_each_backend(|db| async move {
        let store = db.store();
        let acme = store
            .create_tenant(&cloud("acme"), "Acme", NOW)
            .await
            .unwrap();
        let beta = store
            .create_tenant(&cloud("beta"), "Beta", NOW)
            .await
            .unwrap();
        let exchange = |tenant, app: &str, at: i64| ExchangeRecord {
            id: 0,
            tenant,
            protocol: "oidc".into(),
            app: app.into(),
            at: NOW + Seconds(at),
            kind: "token".into(),
            member: "jo".into(),
            outcome: "answered".into(),
            reason: String::new(),
            signature: String::new(),
            summary: format!("{{\"n\":{at}}}"),
            detail: Some("sealed".into()),
            detail_until: Some(NOW + Seconds(at + 100)),
        };
        let events = ExchangeApp {
            protocol: "oidc",
            app: "events",
        };
        for at in 0..5 {
            store
                .record_exchange(&exchange(acme.id, "events", at), 3)
                .await
                .unwrap();
        }
        // Another app, another protocol with the same id, another tenant: none trims the other.
        store
            .record_exchange(&exchange(acme.id, "learning", 0), 3)
            .await
            .unwrap();
        let saml = ExchangeRecord {
            protocol: "saml".into(),
            ..exchange(acme.id, "events", 9)
        };
        store.record_exchange(&saml, 3).await.unwrap();
        store
            .record_exchange(&exchange(beta.id, "events", 0), 3)
            .await
            .unwrap();

        let kept = store.exchanges(acme.id, events, 100).await.unwrap();
        let summaries: Vec<&str> = kept.iter().map(|e| e.summary.as_str()).collect();
        assert_eq!(summaries, ["{\"n\":4}", "{\"n\":3}", "{\"n\":2}"]);
        assert_eq!(store.exchanges(acme.id, events, 1).await.unwrap().len(), 1);
        let saml_app = ExchangeApp {
            protocol: "saml",
            app: "events",
        };
        assert_eq!(
            store.exchanges(acme.id, saml_app, 100).await.unwrap().len(),
            1
        );
        assert_eq!(
            store.exchanges(beta.id, events, 100).await.unwrap().len(),
            1
        );

        // Refused exchanges are kept apart: three of them push no answered one out.
        for at in 10..13 {
            let refused = ExchangeRecord {
                outcome: "refused".into(),
                ..exchange(acme.id, "events", at)
            };
            store.record_exchange(&refused, 3).await.unwrap();
        }
        let both = store.exchanges(acme.id, events, 100).await.unwrap();
        assert_eq!(both.len(), 6);
        assert_eq!(both[3..].to_vec(), kept);
        for at in 13..15 {
            let refused = ExchangeRecord {
                outcome: "refused".into(),
                ..exchange(acme.id, "events", at)
            };
            store.record_exchange(&refused, 3).await.unwrap();
        }
        let both = store.exchanges(acme.id, events, 100).await.unwrap();
        let refused: Vec<&str> = both[..3].iter().map(|e| e.summary.as_str()).collect();
        assert_eq!(refused, ["{\"n\":14}", "{\"n\":13}", "{\"n\":12}"]);
        assert_eq!(both[3..].to_vec(), kept);

        let newest = &kept[0];
        assert_eq!(
            store
                .exchange(acme.id, events, newest.id)
                .await
                .unwrap()
                .as_ref(),
            Some(newest)
        );
        assert_eq!(
            store.exchange(beta.id, events, newest.id).await.unwrap(),
            None
        );
        assert_eq!(
            store.exchange(acme.id, saml_app, newest.id).await.unwrap(),
            None
        );

        // Details of the exchanges at 2 and 3 end at NOW+102 and NOW+103.
        let forgotten = store
            .forget_exchange_details(NOW + Seconds(103))
            .await
            .unwrap();
        assert!(forgotten >= 2, "{forgotten}");
        let kept = store.exchanges(acme.id, events, 100).await.unwrap()[3..].to_vec();
        assert_eq!(kept[0].detail.as_deref(), Some("sealed"));
        assert_eq!((kept[1].detail.clone(), kept[1].detail_until), (None, None));
        assert_eq!(kept[2].detail, None);

        store.delete_exchanges(acme.id, events).await.unwrap();
        assert!(store
            .exchanges(acme.id, events, 100)
            .await
            .unwrap()
            .is_empty());
        assert_eq!(
            store.exchanges(acme.id, saml_app, 100).await.unwrap().len(),
            1
        );
    })
    .await;
}

//! The dashboard's log pages: a fixed number each, newest first, following on without gaps or
//! repeats, within the filters and days asked for.

use serde_json::json;
use vestibule_audit::{AuditAction, AuditLog, Change, PAGE_SIZE};
use vestibule_domain::{CloudId, Seconds, Timestamp};
use vestibule_storage::testing::for_each_backend;

/// 2026-11-23 00:00 UTC.
const DAY: Timestamp = Timestamp(1_795_392_000);

#[tokio::test]
async fn pages_follow_each_other_within_the_filter_and_days() {
    for_each_backend(|db| async move {
        let store = db.store().clone();
        let tenant = store
            .create_tenant(&CloudId::parse("acme").unwrap(), "Acme", DAY)
            .await
            .unwrap()
            .id;
        let log = AuditLog::new(store);
        // 120 edits, one an hour from the 23rd, every third of them a sign-in instead.
        for i in 0..120 {
            let action = if i % 3 == 0 {
                AuditAction::SignInSucceeded
            } else {
                AuditAction::SamlAppUpdate
            };
            let change = Change {
                tenant: Some(tenant),
                actor: "admin@acme.test",
                action,
                target: format!("change {i}"),
                before: Some(json!({ "n": i })),
                after: Some(json!({ "n": i + 1 })),
            };
            log.record(change, DAY + Seconds::hours(i)).await.unwrap();
        }

        let everything = vestibule_audit::filter("", "");
        let mut seen = Vec::new();
        let mut older_than = None;
        loop {
            let (page, more) = log.page(tenant, &everything, older_than).await.unwrap();
            assert!(page.len() as i64 <= PAGE_SIZE);
            seen.extend(page.iter().map(|event| event.target.clone()));
            older_than = page.last().map(|event| event.id);
            if !more {
                break;
            }
        }
        let expected: Vec<String> = (0..120).rev().map(|i| format!("change {i}")).collect();
        assert_eq!(seen, expected, "every event once, newest first");

        // The 24th and 25th (UTC), SAML edits only: hours 24..72, two of every three.
        let edits = vestibule_audit::with_dates(
            vestibule_audit::filter("saml_app.", ""),
            "2026-11-24",
            "2026-11-25",
        )
        .unwrap();
        let (page, more) = log.page(tenant, &edits, None).await.unwrap();
        assert!(!more);
        assert_eq!(page.len(), 32);
        assert_eq!(page[0].target, "change 71");
        assert_eq!(page[31].target, "change 25");

        assert!(
            vestibule_audit::with_dates(everything, "2026-11-31", "").is_err(),
            "a day that does not exist is refused, not read as another"
        );
    })
    .await;
}

//! The recorder against both databases: what it keeps, who sees what, and for how long.

#![allow(clippy::unwrap_used)]

use vestibule_domain::{CloudId, Seconds, Timestamp};
use vestibule_recorder::{
    AppRef, Exchange, FlightRecorder, Kind, Message, Outcome, Reveal, DETAIL_KEPT, KEEP,
};
use vestibule_secrets::SecretKey;
use vestibule_storage::testing::for_each_backend;

const NOW: Timestamp = Timestamp(1_800_000_000);

fn token_exchange(client: &str, member: &str) -> Exchange {
    let request = vec![
        ("grant_type".to_string(), "authorization_code".to_string()),
        ("code".to_string(), "the-code".to_string()),
    ];
    Exchange {
        app: AppRef::oidc(client),
        kind: Kind::Token,
        member: Some(member.to_string()),
        outcome: Outcome::Answered,
        signature: "ID token signed with RS256".into(),
        message: Message::oauth(
            &request,
            Some(serde_json::json!({ "id_token": "e30.eyJzdWIiOiJpbWlzOjQyIn0.c2ln" })),
        ),
    }
}

#[tokio::test]
async fn admins_open_the_full_detail_for_a_day_and_everyone_else_sees_it_redacted() {
    for_each_backend(|db| async move {
        let store = db.store();
        let acme = store
            .create_tenant(&CloudId::parse("acme").unwrap(), "Acme", NOW)
            .await
            .unwrap();
        let beta = store
            .create_tenant(&CloudId::parse("beta").unwrap(), "Beta", NOW)
            .await
            .unwrap();
        let secret = SecretKey::from_base64(&SecretKey::generate_base64()).unwrap();
        let recorder = FlightRecorder::new(store.clone(), secret);
        let events = AppRef::oidc("events");
        recorder
            .record(acme.id, token_exchange("events", "jo"), NOW)
            .await;
        let refused = Exchange {
            outcome: Outcome::Refused {
                reason: "redirect_uri differs at character 23".into(),
            },
            kind: Kind::Authorization,
            ..token_exchange("events", "")
        };
        recorder.record(acme.id, refused, NOW + Seconds(1)).await;

        let recent = recorder.recent(acme.id, &events, NOW).await.unwrap();
        assert_eq!(recent.len(), 2);
        assert_eq!(recent[0].kind, Some(Kind::Authorization));
        assert!(!recent[0].answered);
        assert_eq!(recent[0].reason, "redirect_uri differs at character 23");
        assert_eq!(recent[1].member, "jo");
        assert_eq!(recent[1].detail_until, Some(NOW + DETAIL_KEPT));

        let id = recent[1].id;
        let redacted = recorder
            .open(acme.id, &events, id, Reveal::Redacted, NOW)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(redacted.full, None);
        assert!(!redacted.redacted.text.contains("imis:42"));
        let full = recorder
            .open(acme.id, &events, id, Reveal::Full, NOW)
            .await
            .unwrap()
            .unwrap();
        let full = full.full.unwrap();
        assert!(full.text.contains("imis:42"), "{}", full.text);
        assert!(!full.text.contains("the-code"));

        // Another tenant, another app: nothing.
        assert!(recorder
            .open(beta.id, &events, id, Reveal::Full, NOW)
            .await
            .unwrap()
            .is_none());
        let other = AppRef::oidc("learning");
        assert!(recorder
            .open(acme.id, &other, id, Reveal::Full, NOW)
            .await
            .unwrap()
            .is_none());

        // A day later the detail is hidden at once, and gone after the sweep.
        let later = NOW + DETAIL_KEPT;
        let opened = recorder.open(acme.id, &events, id, Reveal::Full, later);
        let opened = opened.await.unwrap().unwrap();
        assert_eq!((opened.full, opened.entry.detail_until), (None, None));
        assert!(recorder.forget_expired_details(later).await.unwrap() >= 1);
        let stored = store
            .exchange(
                acme.id,
                vestibule_storage::ExchangeApp {
                    protocol: "oidc",
                    app: "events",
                },
                id,
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.detail, None);
        assert!(stored.summary.contains("authorization_code"));
    })
    .await;
}

#[tokio::test]
async fn each_app_keeps_its_latest_exchanges_only() {
    for_each_backend(|db| async move {
        let store = db.store();
        let acme = store
            .create_tenant(&CloudId::parse("acme").unwrap(), "Acme", NOW)
            .await
            .unwrap();
        let secret = SecretKey::from_base64(&SecretKey::generate_base64()).unwrap();
        let recorder = FlightRecorder::new(store.clone(), secret);
        for n in 0..KEEP + 5 {
            let member = format!("member-{n}");
            recorder
                .record(
                    acme.id,
                    token_exchange("events", &member),
                    NOW + Seconds(60 * n),
                )
                .await;
        }
        let recent = recorder
            .recent(acme.id, &AppRef::oidc("events"), NOW)
            .await
            .unwrap();
        assert_eq!(recent.len() as i64, KEEP);
        assert_eq!(recent[0].member, format!("member-{}", KEEP + 4));
        assert_eq!(recent.last().unwrap().member, "member-5");
        // As many refused ones again push none of those out, and are all listed.
        for n in 0..KEEP {
            let refused = Exchange {
                outcome: Outcome::Refused {
                    reason: "forged".into(),
                },
                ..token_exchange("events", &format!("forged-{n}"))
            };
            recorder
                .record(acme.id, refused, NOW + Seconds(KEEP + n))
                .await;
        }
        let recent = recorder
            .recent(acme.id, &AppRef::oidc("events"), NOW)
            .await
            .unwrap();
        assert_eq!(recent.len() as i64, 2 * KEEP);
        assert_eq!(recent.last().unwrap().member, "member-5");
    })
    .await;
}

#[tokio::test]
async fn a_node_writes_at_most_sixty_exchanges_of_an_app_a_minute() {
    use vestibule_recorder::PER_APP_PER_MINUTE;
    for_each_backend(|db| async move {
        let store = db.store();
        let acme = store
            .create_tenant(&CloudId::parse("acme").unwrap(), "Acme", NOW)
            .await
            .unwrap();
        let secret = SecretKey::from_base64(&SecretKey::generate_base64()).unwrap();
        let recorder = FlightRecorder::new(store.clone(), secret);
        let minute = Timestamp(NOW.0 - NOW.0 % 60);
        for n in 0..PER_APP_PER_MINUTE + 10 {
            let at = minute + Seconds(i64::from(n % 60));
            recorder
                .record(acme.id, token_exchange("events", "flood"), at)
                .await;
        }
        // Another app has its own minute; the next minute has room again.
        recorder
            .record(acme.id, token_exchange("learning", "jo"), minute)
            .await;
        let next = minute + Seconds(60);
        recorder
            .record(acme.id, token_exchange("events", "later"), next)
            .await;
        let events = recorder
            .recent(acme.id, &AppRef::oidc("events"), NOW)
            .await
            .unwrap();
        assert_eq!(events.len() as u32, PER_APP_PER_MINUTE + 1);
        assert_eq!(events[0].member, "later");
        let learning = recorder
            .recent(acme.id, &AppRef::oidc("learning"), NOW)
            .await
            .unwrap();
        assert_eq!(learning.len(), 1);
    })
    .await;
}

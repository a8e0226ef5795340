//! Member sign-in against the iMIS emulator over real HTTP, on SQLite and PostgreSQL: the iMIS
//! round trip, each failure a member can hit, the member directory, sessions and isolation.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use imis_emulator::{Behaviour, Directory, Emulator, FailMode};
use vestibule_domain::{Seconds, TenantId, Timestamp};
use vestibule_imis::Network;
use vestibule_members::{
    IdentitySource, ImisFlow, MemberPolicy, Members, MembersError, NewDirectoryMember,
    SignInAttempt,
};
use vestibule_secrets::SecretKey;
use vestibule_settings::{SettingsInput, TenantSettings};
use vestibule_staff::PasswordHasher;
use vestibule_storage::testing::{for_each_backend, sqlite, TestDatabase};

const NOW: Timestamp = Timestamp(1_900_000_000);

struct World {
    members: Members,
    settings: TenantSettings,
    emulator: Emulator,
    imis: String,
    acme: TenantId,
    beta: TenantId,
}

fn input(base: &str, oidc_secret: &str) -> SettingsInput {
    SettingsInput {
        imis_base_url: base.to_string(),
        oidc_client_id: "vestibule-oidc".into(),
        oidc_client_secret: oidc_secret.into(),
        oidc_sso_page: "/sso/oidc".into(),
        saml_client_id: "vestibule-saml".into(),
        saml_client_secret: "demo-saml-secret".into(),
        saml_sso_page: "/sso/saml".into(),
        api_username: "vestibule-api".into(),
        api_password: "demo-api-password".into(),
        profile_iqa: "$/Vestibule/MemberProfile".into(),
        identity_source: "imis".into(),
        ..SettingsInput::default()
    }
}

async fn world(db: &TestDatabase) -> World {
    let store = db.store().clone();
    let acme = store
        .create_tenant(&"acme".parse().unwrap(), "Acme", NOW)
        .await
        .unwrap()
        .id;
    let beta = store
        .create_tenant(&"beta".parse().unwrap(), "Beta", NOW)
        .await
        .unwrap()
        .id;
    let emulator = Emulator::new(Directory::demo(), Behaviour::default());
    let imis = emulator.serve_on_loopback().await.unwrap();
    let key = SecretKey::from_base64(&SecretKey::generate_base64()).unwrap();
    let settings = TenantSettings::new(
        store.clone(),
        key,
        Duration::from_secs(2),
        Network::Development,
    );
    settings
        .save(acme, input(&imis, "demo-oidc-secret"), NOW)
        .await
        .unwrap();
    let members = Members::new(
        store,
        settings.clone(),
        PasswordHasher::new(1024, 1, 2),
        MemberPolicy::default(),
    );
    World {
        members,
        settings,
        emulator,
        imis,
        acme,
        beta,
    }
}

impl World {
    fn refresh_token(&self, username: &str) -> String {
        self.emulator
            .issue_refresh_token(username, "vestibule-oidc")
            .unwrap()
    }

    async fn complete(&self, pending: Option<&str>, token: &str) -> Result<String, MembersError> {
        self.members
            .complete_imis_sign_in(self.acme, ImisFlow::OpenIdConnect, pending, token, NOW)
            .await
            .map(|signed_in| signed_in.session_token)
    }

    /// Adds demo.member to acme's member directory and makes the directory acme's identity
    /// source.
    async fn use_directory_with_demo_member(&self) {
        self.members
            .add_directory_member(
                self.acme,
                NewDirectoryMember {
                    username: "demo.member".into(),
                    email: "demo@acme.test".into(),
                    given_name: "Demo".into(),
                    family_name: "Member".into(),
                    password: "demo-member-password".into(),
                },
                NOW,
            )
            .await
            .unwrap();
        let mut directory = input(&self.imis, "");
        directory.identity_source = "directory".into();
        self.settings.save(self.acme, directory, NOW).await.unwrap();
    }

    async fn last_event(&self) -> (String, String) {
        let event = self
            .members
            .sign_in_events(self.acme, None, 1)
            .await
            .unwrap()
            .remove(0);
        (event.outcome, event.detail)
    }
}

/// Review finding: an IQA whose filter ignores the username returns every member, and the
/// first row (jane's) signed omar in as jane. Only the row whose username is the token's counts.
#[tokio::test]
async fn a_loose_profile_iqa_never_signs_a_member_in_as_someone_else() {
    let db = vestibule_storage::testing::sqlite().await;
    let world = world(&db).await;
    world.emulator.set_behaviour(Behaviour {
        loose_iqa: true,
        ..Behaviour::default()
    });
    let token = world.refresh_token("omar");
    let signed_in = world
        .members
        .complete_imis_sign_in(world.acme, ImisFlow::OpenIdConnect, None, &token, NOW)
        .await
        .unwrap();
    assert_eq!(signed_in.member.username, "omar");
    let jane = world.members.find_member(world.acme, "jane").await.unwrap();
    assert_ne!(signed_in.member.subject, jane.subject);
    assert_eq!(jane.username, "jane");
}

#[tokio::test]
async fn imis_sign_in_round_trip_keeps_the_destination_and_opens_a_session() {
    for_each_backend(|db| async move {
        let world = world(&db).await;
        let started = world
            .members
            .start_imis_sign_in(
                world.acme,
                None,
                "/account?tab=events",
                "",
                "OIDC app Events (events)",
                NOW,
            )
            .await
            .unwrap();
        assert_eq!(started.sso_page, format!("{}/sso/oidc", world.imis));

        let token = world.refresh_token("jane");
        let signed_in = world
            .members
            .complete_imis_sign_in(
                world.acme,
                ImisFlow::OpenIdConnect,
                Some(&started.pending_token),
                &token,
                NOW,
            )
            .await
            .unwrap();
        assert_eq!(signed_in.return_to.as_deref(), Some("/account?tab=events"));
        let member = &signed_in.member;
        assert_eq!(member.source, IdentitySource::Imis);
        assert_eq!(member.subject, "imis:23201");
        assert_eq!(member.name, "Jane Member");
        assert_eq!(member.email, "jane@members.acme.test");
        assert_eq!(member.attributes["MemberType"], "REG");

        // The session holds the profile; another tenant's domain does not know the cookie.
        let session = world
            .members
            .session(world.acme, &signed_in.session_token, NOW)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&session.member, member);
        assert!(world
            .members
            .session(world.beta, &signed_in.session_token, NOW)
            .await
            .unwrap()
            .is_none());
        // The sign-in log names the application the pending sign-in was started for.
        let event = world
            .members
            .sign_in_events(world.acme, None, 1)
            .await
            .unwrap()
            .remove(0);
        assert_eq!(
            (event.outcome.as_str(), event.application.as_str()),
            ("signed in", "OIDC app Events (events)")
        );

        // The pending sign-in was single use: iMIS coming back again has no destination.
        let again = world
            .members
            .complete_imis_sign_in(
                world.acme,
                ImisFlow::OpenIdConnect,
                Some(&started.pending_token),
                &world.refresh_token("jane"),
                NOW,
            )
            .await
            .unwrap();
        assert_eq!(again.return_to, None);
        let event = world
            .members
            .sign_in_events(world.acme, None, 1)
            .await
            .unwrap()
            .remove(0);
        assert_eq!(event.application, "", "no pending sign-in, no application");

        world
            .members
            .sign_out(&signed_in.session_token)
            .await
            .unwrap();
        assert!(world
            .members
            .session(world.acme, &signed_in.session_token, NOW)
            .await
            .unwrap()
            .is_none());
    })
    .await;
}

#[tokio::test]
async fn saml_flow_uses_the_saml_client_application() {
    let db = sqlite().await;
    let world = world(&db).await;
    let started = world
        .members
        .start_imis_sign_in(world.acme, Some(ImisFlow::Saml), "/", "", "", NOW)
        .await
        .unwrap();
    assert_eq!(started.sso_page, format!("{}/sso/saml", world.imis));
    let token = world
        .emulator
        .issue_refresh_token("omar", "vestibule-saml")
        .unwrap();
    let member = world
        .members
        .complete_imis_sign_in(world.acme, ImisFlow::Saml, None, &token, NOW)
        .await
        .unwrap()
        .member;
    assert_eq!(member.subject, "imis:23202");
    // A token issued to the SAML application is refused at the OpenID Connect callback.
    let token = world
        .emulator
        .issue_refresh_token("omar", "vestibule-saml")
        .unwrap();
    assert!(matches!(
        world.complete(None, &token).await,
        Err(MembersError::TokenRefused(_))
    ));
}

#[tokio::test]
async fn every_failure_a_member_can_hit_is_told_apart_and_recorded() {
    let db = sqlite().await;
    let world = world(&db).await;
    // Failures only the admins can fix are told to the server, which warns them.
    let troubles = std::sync::Arc::new(std::sync::Mutex::new(Vec::<&'static str>::new()));
    let heard = troubles.clone();
    assert!(world
        .members
        .observe_imis_trouble(std::sync::Arc::new(move |trouble| {
            heard.lock().unwrap().push(trouble.outcome)
        })));

    // Replayed refresh token.
    let token = world.refresh_token("jane");
    world.complete(None, &token).await.unwrap();
    let replay = world.complete(None, &token).await;
    assert!(
        matches!(replay, Err(MembersError::TokenRefused(_))),
        "{replay:?}"
    );
    let (outcome, detail) = world.last_event().await;
    assert_eq!(outcome, "refresh token refused");
    assert!(
        detail.contains("invalid_grant") || detail.contains("refused"),
        "{detail}"
    );
    assert!(
        !detail.contains(&token),
        "the token must not reach the events"
    );

    // Made-up (or expired) refresh token.
    assert!(matches!(
        world.complete(None, "never-issued").await,
        Err(MembersError::TokenRefused(_))
    ));

    // No refresh token at all.
    assert!(matches!(
        world.complete(None, "  ").await,
        Err(MembersError::MissingRefreshToken)
    ));

    // iMIS down, then slow.
    world.emulator.set_behaviour(Behaviour {
        fail: FailMode::Token,
        ..Behaviour::default()
    });
    let down = world.complete(None, &world.refresh_token("jane")).await;
    assert!(
        matches!(down, Err(MembersError::ImisUnavailable(_))),
        "{down:?}"
    );
    world.emulator.set_behaviour(Behaviour {
        delay_ms: 2_500,
        ..Behaviour::default()
    });
    let slow = world.complete(None, &world.refresh_token("jane")).await;
    assert!(
        matches!(slow, Err(MembersError::ImisUnavailable(_))),
        "{slow:?}"
    );
    assert!(world.last_event().await.1.contains("did not answer"));
    world.emulator.set_behaviour(Behaviour::default());

    // The client secret in Settings is wrong.
    world
        .settings
        .save(world.acme, input(&world.imis, "wrong-secret"), NOW)
        .await
        .unwrap();
    let misconfigured = world.complete(None, &world.refresh_token("jane")).await;
    assert!(
        matches!(misconfigured, Err(MembersError::ClientRefused(_))),
        "{misconfigured:?}"
    );
    let (outcome, detail) = world.last_event().await;
    assert_eq!(outcome, "client secret refused");
    assert!(!detail.contains("wrong-secret"), "{detail}");

    // A tenant that has not set up iMIS: refused, and its admins can read why.
    assert!(matches!(
        world
            .members
            .start_imis_sign_in(world.beta, None, "/", "", "", NOW)
            .await,
        Err(MembersError::NotConfigured(_))
    ));
    let events = world
        .members
        .sign_in_events(world.beta, None, 1)
        .await
        .unwrap();
    assert_eq!(events[0].outcome, "not set up");
    assert!(
        events[0].detail.contains("no iMIS address"),
        "{}",
        events[0].detail
    );

    // A tenant that turned iMIS off for the member directory accepts no iMIS callbacks.
    let mut directory = input(&world.imis, "demo-oidc-secret");
    directory.identity_source = "directory".into();
    world
        .settings
        .save(world.acme, directory, NOW)
        .await
        .unwrap();
    assert!(matches!(
        world.complete(None, &world.refresh_token("jane")).await,
        Err(MembersError::NotConfigured(_))
    ));

    let heard = troubles.lock().unwrap().clone();
    for admins in ["iMIS unavailable", "client secret refused", "not set up"] {
        assert!(heard.contains(&admins), "{admins} not heard in {heard:?}");
    }
    for members in ["refresh token refused", "no refresh token"] {
        assert!(!heard.contains(&members), "{members} heard in {heard:?}");
    }
}

#[tokio::test]
async fn sessions_end_after_the_idle_and_absolute_timeouts() {
    let db = sqlite().await;
    let world = world(&db).await;
    let policy = world.members.policy();
    let token = world
        .complete(None, &world.refresh_token("jane"))
        .await
        .unwrap();
    let later = |seconds: Seconds| NOW + seconds;

    // Active use keeps it alive past the idle timeout...
    let mut at = NOW;
    for _ in 0..3 {
        at = at + policy.sessions.idle_timeout - Seconds(60);
        assert!(world
            .members
            .session(world.acme, &token, at)
            .await
            .unwrap()
            .is_some());
    }
    // ...but an idle gap ends it.
    let idle = at + policy.sessions.idle_timeout + Seconds(1);
    assert!(world
        .members
        .session(world.acme, &token, idle)
        .await
        .unwrap()
        .is_none());

    // And nothing outlives the absolute timeout.
    let token = world
        .complete(None, &world.refresh_token("jane"))
        .await
        .unwrap();
    let mut at = NOW;
    while at < later(policy.sessions.absolute_timeout) - policy.sessions.idle_timeout {
        at = at + policy.sessions.idle_timeout - Seconds(60);
        world.members.session(world.acme, &token, at).await.unwrap();
    }
    let past = later(policy.sessions.absolute_timeout);
    assert!(world
        .members
        .session(world.acme, &token, past)
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn the_member_directory_signs_members_in_with_argon2id_passwords() {
    for_each_backend(|db| async move {
        let world = world(&db).await;
        let members = &world.members;
        let new = || NewDirectoryMember {
            username: "Demo.Member".into(),
            email: "demo@acme.test".into(),
            given_name: "Demo".into(),
            family_name: "Member".into(),
            password: "demo-member-password".into(),
        };
        let added = members
            .add_directory_member(world.acme, new(), NOW)
            .await
            .unwrap();
        assert_eq!(added.username, "demo.member");
        let duplicate = members.add_directory_member(world.acme, new(), NOW).await;
        assert!(matches!(duplicate, Err(MembersError::Invalid(_))));
        // Another tenant may use the same username.
        members
            .add_directory_member(world.beta, new(), NOW)
            .await
            .unwrap();
        let stored = db
            .store()
            .directory_member_by_username(world.acme, "demo.member")
            .await
            .unwrap()
            .unwrap();
        assert!(stored.password_hash.starts_with("$argon2id$"));

        // Only once the tenant chooses the directory.
        let refused = members
            .sign_in_with_password(
                world.acme,
                "demo.member",
                "demo-member-password",
                SignInAttempt::by("ip"),
                NOW,
            )
            .await;
        assert!(matches!(refused, Err(MembersError::NotConfigured(_))));
        let mut settings = input(&world.imis, "");
        settings.identity_source = "directory".into();
        world
            .settings
            .save(world.acme, settings, NOW)
            .await
            .unwrap();

        let signed_in = members
            .sign_in_with_password(
                world.acme,
                " DEMO.member ",
                "demo-member-password",
                SignInAttempt::by("ip"),
                NOW,
            )
            .await
            .unwrap();
        assert_eq!(signed_in.member.subject, added.subject);
        assert!(signed_in.member.subject.starts_with("directory:"));
        assert!(!signed_in.member.subject.contains("demo.member"));
        assert_eq!(signed_in.member.name, "Demo Member");
        let wrong = members
            .sign_in_with_password(
                world.acme,
                "demo.member",
                "not the password",
                SignInAttempt::by("ip"),
                NOW,
            )
            .await;
        assert!(matches!(wrong, Err(MembersError::BadCredentials)));
        assert_eq!(world.last_event().await.0, "wrong password");
        let unknown = members
            .sign_in_with_password(
                world.acme,
                "nobody",
                "demo-member-password",
                SignInAttempt::by("ip"),
                NOW,
            )
            .await;
        assert!(matches!(unknown, Err(MembersError::BadCredentials)));

        // A new password works and the old one stops working.
        members
            .set_directory_password(world.acme, added.id, "a brand new password", NOW)
            .await
            .unwrap();
        assert!(members
            .sign_in_with_password(
                world.acme,
                "demo.member",
                "a brand new password",
                SignInAttempt::by("ip"),
                NOW
            )
            .await
            .is_ok());
        // Another tenant cannot touch this member.
        assert!(matches!(
            members
                .remove_directory_member(world.beta, added.id, NOW)
                .await,
            Err(MembersError::NotFound)
        ));
        // Review finding: the `sub` was `directory:<username>`, so a removed member's
        // applications handed their accounts to the next person given that username. A member
        // added again under the same name is someone new to every application.
        let before_removal = added.subject.clone();
        // Removing the member ends their sessions.
        members
            .remove_directory_member(world.acme, added.id, NOW)
            .await
            .unwrap();
        assert!(members
            .session(world.acme, &signed_in.session_token, NOW)
            .await
            .unwrap()
            .is_none());
        let again = members
            .add_directory_member(
                world.acme,
                NewDirectoryMember {
                    username: "demo.member".into(),
                    email: "someone.else@acme.test".into(),
                    given_name: "Someone".into(),
                    family_name: "Else".into(),
                    password: "someone-elses-password".into(),
                },
                NOW,
            )
            .await
            .unwrap();
        assert_ne!(again.subject, before_removal);
        let signed_in = members
            .sign_in_with_password(
                world.acme,
                "demo.member",
                "someone-elses-password",
                SignInAttempt::by("ip"),
                NOW,
            )
            .await
            .unwrap();
        assert_eq!(signed_in.member.subject, again.subject);
    })
    .await;
}

#[tokio::test]
async fn repeated_wrong_passwords_are_limited() {
    let db = sqlite().await;
    let world = world(&db).await;
    let mut settings = input(&world.imis, "");
    settings.identity_source = "directory".into();
    world
        .settings
        .save(world.acme, settings, NOW)
        .await
        .unwrap();
    let members = &world.members;
    let limit = members.policy().failures_per_member;
    let to_learning = SignInAttempt::by("ip").to_application("SAML app Learning (lms)");
    for _ in 0..limit {
        let wrong = members
            .sign_in_with_password(world.acme, "jane", "wrong password!", to_learning, NOW)
            .await;
        assert!(matches!(wrong, Err(MembersError::BadCredentials)));
    }
    let limited = members
        .sign_in_with_password(world.acme, "jane", "wrong password!", to_learning, NOW)
        .await;
    assert!(
        matches!(limited, Err(MembersError::TooManyAttempts { .. })),
        "{limited:?}"
    );
    // The sign-in log says which application the refused member was on their way to.
    let event = members
        .sign_in_events(world.acme, Some("learning"), 1)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(event.application, "SAML app Learning (lms)");
    assert_eq!(event.member, "jane");
}

/// Review finding: the failure count was read before the password check and written after,
/// so 25 wrong passwords sent at once were all checked against a limit of 5. Each attempt is
/// now counted before its check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_sent_at_once_are_limited_too() {
    for_each_backend(|db| async move {
        let world = world(&db).await;
        let mut settings = input(&world.imis, "");
        settings.identity_source = "directory".into();
        world
            .settings
            .save(world.acme, settings, NOW)
            .await
            .unwrap();
        let limit = world.members.policy().failures_per_member;
        let mut running = tokio::task::JoinSet::new();
        for i in 0..25 {
            let (members, acme) = (world.members.clone(), world.acme);
            running.spawn(async move {
                members
                    .sign_in_with_password(
                        acme,
                        "jane",
                        "wrong password!",
                        SignInAttempt::by(&format!("ip-{i}")),
                        NOW,
                    )
                    .await
            });
        }
        let mut checked = 0;
        while let Some(outcome) = running.join_next().await {
            match outcome.unwrap() {
                Err(MembersError::BadCredentials) => checked += 1,
                Err(MembersError::TooManyAttempts { .. }) => {}
                other => panic!("{other:?}"),
            }
        }
        assert!(
            checked <= limit,
            "{checked} passwords checked, limit {limit}"
        );
        assert!(checked >= 1);

        // The address buckets are the tenant's: guesses at another tenant lock nothing here.
        let beta = world.beta;
        for _ in 0..world.members.policy().failures_per_address + 1 {
            let _ = world
                .members
                .sign_in_with_password(
                    beta,
                    "someone",
                    "wrong password!",
                    SignInAttempt::by("shared-ip"),
                    NOW,
                )
                .await;
        }
        let acme_from_same_address = world
            .members
            .sign_in_with_password(
                world.acme,
                "omar",
                "wrong password!",
                SignInAttempt::by("shared-ip"),
                NOW,
            )
            .await;
        assert!(
            matches!(acme_from_same_address, Err(MembersError::BadCredentials)),
            "{acme_from_same_address:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn logos_must_be_small_raster_images() {
    let db = sqlite().await;
    let world = world(&db).await;
    let png = b"\x89PNG\r\n\x1a\n rest of a png".to_vec();
    world
        .members
        .set_logo(world.acme, png.clone(), NOW)
        .await
        .unwrap();
    assert_eq!(
        world
            .members
            .logo(world.acme)
            .await
            .unwrap()
            .unwrap()
            .content_type,
        "image/png"
    );
    assert!(world.members.logo(world.beta).await.unwrap().is_none());
    let svg = b"<svg onload=\"alert(1)\"/>".to_vec();
    assert!(matches!(
        world.members.set_logo(world.acme, svg, NOW).await,
        Err(MembersError::Invalid(_))
    ));
    let huge = [png.clone(), vec![0; vestibule_members::MAX_LOGO_BYTES]].concat();
    assert!(matches!(
        world.members.set_logo(world.acme, huge, NOW).await,
        Err(MembersError::Invalid(_))
    ));
    // The refused uploads left the saved logo alone.
    assert_eq!(
        world.members.logo(world.acme).await.unwrap().unwrap().data,
        png
    );
}

#[tokio::test]
async fn passwords_are_verified_against_either_identity_source_without_a_session() {
    let db = sqlite().await;
    let world = world(&db).await;
    let members = &world.members;

    // iMIS: the password grant at iMIS, then the profile.
    let jane = members
        .verify_password(
            world.acme,
            "jane",
            "jane-demo-password",
            SignInAttempt::by("ip"),
            NOW,
        )
        .await
        .unwrap();
    assert_eq!(jane.subject, "imis:23201");
    assert_eq!(jane.email, "jane@members.acme.test");
    let wrong = members
        .verify_password(
            world.acme,
            "jane",
            "not her password",
            SignInAttempt::by("ip"),
            NOW,
        )
        .await;
    assert!(
        matches!(wrong, Err(MembersError::BadCredentials)),
        "{wrong:?}"
    );
    assert_eq!(world.last_event().await.0, "wrong password");
    world.emulator.set_behaviour(Behaviour {
        fail: FailMode::Token,
        ..Behaviour::default()
    });
    let down = members
        .verify_password(
            world.acme,
            "jane",
            "jane-demo-password",
            SignInAttempt::by("ip"),
            NOW,
        )
        .await;
    assert!(
        matches!(down, Err(MembersError::ImisUnavailable(_))),
        "{down:?}"
    );
    world.emulator.set_behaviour(Behaviour::default());

    // The member directory, once chosen.
    world.use_directory_with_demo_member().await;
    let demo = members
        .verify_password(
            world.acme,
            "demo.member",
            "demo-member-password",
            SignInAttempt::by("ip"),
            NOW,
        )
        .await
        .unwrap();
    assert!(demo.subject.starts_with("directory:"), "{}", demo.subject);
    // iMIS passwords no longer work for this tenant.
    assert!(matches!(
        members
            .verify_password(
                world.acme,
                "jane",
                "jane-demo-password",
                SignInAttempt::by("ip"),
                NOW
            )
            .await,
        Err(MembersError::BadCredentials)
    ));
}

#[tokio::test]
async fn members_are_looked_up_for_previews_without_signing_in() {
    for_each_backend(|db| async move {
        let world = world(&db).await;
        let members = &world.members;

        // iMIS, read with the background account: no session, no sign-in event.
        let jane = members.find_member(world.acme, " jane ").await.unwrap();
        assert_eq!(jane.subject, "imis:23201");
        assert_eq!(jane.attributes["Email"], "jane@members.acme.test");
        assert!(members.sign_in_events(world.acme, None, 5).await.unwrap().is_empty());
        let nobody = members.find_member(world.acme, "nobody").await;
        assert!(
            matches!(nobody, Err(MembersError::ProfileUnavailable(_))),
            "{nobody:?}"
        );

        // Without a background account there is nobody to read the profile with.
        let mut no_account = input(&world.imis, "");
        no_account.api_username = String::new();
        no_account.api_password = String::new();
        world
            .settings
            .save(world.acme, no_account, NOW)
            .await
            .unwrap();
        let refused = members.find_member(world.acme, "jane").await;
        assert!(
            matches!(&refused, Err(MembersError::NotConfigured(why)) if why.contains("background account")),
            "{refused:?}"
        );

        // The directory, once chosen: usernames in any case, FullName for the default mapping.
        world.use_directory_with_demo_member().await;
        let demo = members.find_member(world.acme, "Demo.Member").await.unwrap();
        assert!(demo.subject.starts_with("directory:"), "{}", demo.subject);
        assert_eq!(demo.attributes["FullName"], "Demo Member");
        assert!(matches!(
            members.find_member(world.acme, "jane").await,
            Err(MembersError::NotFound)
        ));
        // Another tenant's directory is not searched.
        assert!(members.find_member(world.beta, "demo.member").await.is_err());
    })
    .await;
}

#[tokio::test]
async fn a_reset_link_sets_a_new_password_once_within_its_tenant_and_hour() {
    for_each_backend(|db| async move {
        let world = world(&db).await;
        let members = &world.members;
        let mut settings = input(&world.imis, "");
        settings.identity_source = "directory".into();
        world
            .settings
            .save(world.acme, settings, NOW)
            .await
            .unwrap();
        let add = |tenant, username: &str, email: &str| {
            members.add_directory_member(
                tenant,
                NewDirectoryMember {
                    username: username.into(),
                    email: email.into(),
                    given_name: "Family".into(),
                    family_name: "Member".into(),
                    password: "the old password".into(),
                },
                NOW,
            )
        };
        add(world.acme, "parent", "family@acme.test").await.unwrap();
        add(world.acme, "child", "family@acme.test").await.unwrap();
        add(world.beta, "parent", "family@acme.test").await.unwrap();
        let beta_hash = || async {
            db.store()
                .directory_member_by_username(world.beta, "parent")
                .await
                .unwrap()
                .unwrap()
                .password_hash
        };
        let beta_before = beta_hash().await;
        let session = members
            .sign_in_with_password(
                world.acme,
                "parent",
                "the old password",
                SignInAttempt::by("ip"),
                NOW,
            )
            .await
            .unwrap()
            .session_token;

        // By e-mail address: every member of this tenant who has it.
        let mut by_email = members
            .members_known_as(world.acme, "Family@ACME.test")
            .await
            .unwrap();
        by_email.sort_by(|a, b| a.username.cmp(&b.username));
        let usernames: Vec<&str> = by_email.iter().map(|m| m.username.as_str()).collect();
        assert_eq!(usernames, ["child", "parent"]);
        assert!(members
            .members_known_as(world.acme, "nobody")
            .await
            .unwrap()
            .is_empty());
        let first = members
            .password_reset_link(world.acme, &by_email[1], NOW)
            .await
            .unwrap();

        let parent = members
            .members_known_as(world.acme, " Parent ")
            .await
            .unwrap()
            .pop()
            .unwrap();
        assert_eq!(parent.id, by_email[1].id);
        let link = members
            .password_reset_link(world.acme, &parent, NOW)
            .await
            .unwrap();
        assert!(
            matches!(
                members.reset_link_member(world.acme, &first, NOW).await,
                Err(MembersError::ResetLinkInvalid)
            ),
            "a newer link replaces the one before"
        );
        assert!(
            matches!(
                members.reset_link_member(world.beta, &link, NOW).await,
                Err(MembersError::ResetLinkInvalid)
            ),
            "a link works on its own tenant's domain only"
        );
        let hour = NOW + members.policy().reset_link_lifetime;
        assert!(matches!(
            members.reset_link_member(world.acme, &link, hour).await,
            Err(MembersError::ResetLinkInvalid)
        ));

        // Too short: refused, and the link still works.
        assert!(matches!(
            members
                .reset_password(world.acme, &link, "short", NOW)
                .await,
            Err(MembersError::Invalid(_))
        ));
        let member = members
            .reset_password(world.acme, &link, "the new password!", NOW)
            .await
            .unwrap();
        assert_eq!(member.username, "parent");
        assert!(matches!(
            members
                .reset_password(world.acme, &link, "another new password", NOW)
                .await,
            Err(MembersError::ResetLinkInvalid)
        ));
        assert!(
            members
                .session(world.acme, &session, NOW)
                .await
                .unwrap()
                .is_none(),
            "the new password ends the old one's sessions"
        );
        assert!(matches!(
            members
                .sign_in_with_password(
                    world.acme,
                    "parent",
                    "the old password",
                    SignInAttempt::by("ip"),
                    NOW
                )
                .await,
            Err(MembersError::BadCredentials)
        ));
        members
            .sign_in_with_password(
                world.acme,
                "parent",
                "the new password!",
                SignInAttempt::by("ip"),
                NOW,
            )
            .await
            .unwrap();
        assert_eq!(
            beta_hash().await,
            beta_before,
            "the other tenant's member of the same name keeps their password"
        );
    })
    .await;
}

//! The account engine against real databases (SQLite and PostgreSQL).

// Helpers outside #[test] functions unwrap too: a panic is the failure report we want.
#![allow(clippy::unwrap_used)]

use vestibule_domain::{Role, Seconds, TenantAccess, Timestamp};
use vestibule_staff::SecondFactorProof::Code;
use vestibule_staff::{CurrentStaff, PasswordHasher, Policy, SetupLink, StaffAccounts, StaffError};
use vestibule_storage::testing::{for_each_backend, TestDatabase};

const NOW: Timestamp = Timestamp(1_800_000_000);
const PASSWORD: &str = "correct horse battery staple";

fn accounts(db: &TestDatabase) -> StaffAccounts {
    // Cheap Argon2 parameters keep the suite fast; production parameters are tested in the crate.
    StaffAccounts::new(
        db.store().clone(),
        PasswordHasher::new(1024, 1, 2),
        Policy::default(),
    )
}

/// Whether a session token is accepted at `at`.
async fn accepted(accounts: &StaffAccounts, token: &str, at: Timestamp) -> bool {
    accounts.authenticate(token, at).await.unwrap().is_some()
}

async fn operator(accounts: &StaffAccounts) -> CurrentStaff {
    accounts
        .add_with_password("ops@vestibule.test", Role::Operator, PASSWORD, NOW)
        .await
        .unwrap();
    let signed_in = accounts
        .sign_in("ops@vestibule.test", PASSWORD, "127.0.0.1", None, NOW)
        .await
        .unwrap();
    accounts
        .authenticate(&signed_in.session_token, NOW)
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn unknown_email_and_wrong_password_fail_alike() {
    for_each_backend(|db| async move {
        let accounts = accounts(&db);
        accounts
            .add_with_password("ops@vestibule.test", Role::Operator, PASSWORD, NOW)
            .await
            .unwrap();
        let wrong = accounts
            .sign_in(
                "ops@vestibule.test",
                "not the password",
                "10.0.0.1",
                None,
                NOW,
            )
            .await
            .unwrap_err();
        let unknown = accounts
            .sign_in("nobody@vestibule.test", PASSWORD, "10.0.0.1", None, NOW)
            .await
            .unwrap_err();
        let malformed = accounts
            .sign_in("not an email", PASSWORD, "10.0.0.1", None, NOW)
            .await
            .unwrap_err();
        assert!(matches!(wrong, StaffError::BadCredentials));
        assert!(matches!(unknown, StaffError::BadCredentials));
        assert!(matches!(malformed, StaffError::BadCredentials));
        assert_eq!(wrong.to_string(), unknown.to_string());

        // An invited person who has not chosen a password cannot sign in with any password.
        let acme = db
            .store()
            .create_tenant(&"acme".parse().unwrap(), "Acme", NOW)
            .await
            .unwrap();
        accounts
            .invite("new@acme.org", Role::TenantAdmin(acme.id), NOW)
            .await
            .unwrap();
        let pending = accounts
            .sign_in("new@acme.org", "", "10.0.0.2", None, NOW)
            .await
            .unwrap_err();
        assert!(matches!(pending, StaffError::BadCredentials));
    })
    .await;
}

#[tokio::test]
async fn failures_are_limited_per_account_and_per_address() {
    for_each_backend(|db| async move {
        let accounts = accounts(&db);
        accounts
            .add_with_password("ops@vestibule.test", Role::Operator, PASSWORD, NOW)
            .await
            .unwrap();
        let policy = Policy::default();
        for attempt in 0..policy.failures_per_account {
            let address = format!("10.0.1.{attempt}");
            let error = accounts
                .sign_in("OPS@vestibule.test", "wrong password!", &address, None, NOW)
                .await
                .unwrap_err();
            assert!(matches!(error, StaffError::BadCredentials));
        }
        // Even the right password is refused while the account is limited, from any address.
        let limited = accounts
            .sign_in("ops@vestibule.test", PASSWORD, "10.9.9.9", None, NOW)
            .await
            .unwrap_err();
        match limited {
            StaffError::TooManyAttempts { retry_after } => {
                assert_eq!(retry_after, policy.failure_window);
                assert!(limited.to_string().contains("15 minutes"));
            }
            other => panic!("expected a rate limit, got {other:?}"),
        }
        // After the window, the right password works again and clears the count.
        let later = NOW + policy.failure_window;
        accounts
            .sign_in("ops@vestibule.test", PASSWORD, "10.9.9.9", None, later)
            .await
            .unwrap();

        // One address trying many accounts is limited too.
        for n in 0..policy.failures_per_address {
            let email = format!("guess{n}@vestibule.test");
            let _ = accounts.sign_in(&email, "x", "10.6.6.6", None, later).await;
        }
        let by_address = accounts
            .sign_in("ops@vestibule.test", PASSWORD, "10.6.6.6", None, later)
            .await
            .unwrap_err();
        assert!(matches!(by_address, StaffError::TooManyAttempts { .. }));
    })
    .await;
}

#[tokio::test]
async fn sessions_rotate_and_expire() {
    for_each_backend(|db| async move {
        let accounts = accounts(&db);
        let policy = Policy::default();
        accounts
            .add_with_password("ops@vestibule.test", Role::Operator, PASSWORD, NOW)
            .await
            .unwrap();
        let first = accounts
            .sign_in("ops@vestibule.test", PASSWORD, "127.0.0.1", None, NOW)
            .await
            .unwrap();
        let second = accounts
            .sign_in(
                "ops@vestibule.test",
                PASSWORD,
                "127.0.0.1",
                Some(&first.session_token),
                NOW,
            )
            .await
            .unwrap();
        assert_ne!(first.session_token, second.session_token);
        assert!(
            !accepted(&accounts, &first.session_token, NOW).await,
            "old id ends at sign-in"
        );
        let current = accounts
            .authenticate(&second.session_token, NOW)
            .await
            .unwrap()
            .unwrap();
        assert!(current.check_csrf(&current.csrf_token).is_ok());
        assert!(matches!(
            current.check_csrf("forged"),
            Err(StaffError::CsrfMismatch)
        ));

        // Activity keeps the session alive past the idle timeout...
        let mut t = NOW;
        while t < NOW + Seconds::hours(2) {
            t = t + Seconds::minutes(20);
            assert!(accepted(&accounts, &second.session_token, t).await);
        }
        // ...but idleness ends it.
        let idle = t + policy.sessions.idle_timeout;
        assert!(!accepted(&accounts, &second.session_token, idle).await);

        // The absolute limit holds however active the session is.
        let third = accounts
            .sign_in("ops@vestibule.test", PASSWORD, "127.0.0.1", None, NOW)
            .await
            .unwrap();
        let mut t = NOW;
        while t + Seconds::minutes(10) < NOW + policy.sessions.absolute_timeout {
            t = t + Seconds::minutes(10);
            assert!(accepted(&accounts, &third.session_token, t).await);
        }
        let past = NOW + policy.sessions.absolute_timeout;
        assert!(!accepted(&accounts, &third.session_token, past).await);

        // Signing out ends the session.
        let fourth = accounts
            .sign_in("ops@vestibule.test", PASSWORD, "127.0.0.1", None, NOW)
            .await
            .unwrap();
        accounts.sign_out(&fourth.session_token).await.unwrap();
        assert!(!accepted(&accounts, &fourth.session_token, NOW).await);
    })
    .await;
}

#[tokio::test]
async fn first_operator_link_then_invitation() {
    for_each_backend(|db| async move {
        let accounts = accounts(&db);
        let old = accounts.first_operator_link(NOW).await.unwrap().unwrap();
        let token = accounts.first_operator_link(NOW).await.unwrap().unwrap();
        assert!(
            matches!(
                accounts.setup_link(&old, NOW).await,
                Err(StaffError::SetupLinkInvalid)
            ),
            "a newer link replaces older ones"
        );
        assert_eq!(
            accounts.setup_link(&token, NOW).await.unwrap(),
            SetupLink::FirstOperator
        );

        let short = accounts
            .complete_setup(&token, Some("ops@x.org"), "short", NOW)
            .await;
        assert!(matches!(short, Err(StaffError::InvalidInput(_))));
        let operator = accounts
            .complete_setup(&token, Some("Ops@X.org"), PASSWORD, NOW)
            .await
            .unwrap();
        assert_eq!(operator.email.as_str(), "ops@x.org");
        assert!(
            accounts.first_operator_link(NOW).await.unwrap().is_none(),
            "no link once staff exist"
        );
        assert!(matches!(
            accounts
                .complete_setup(&token, Some("b@x.org"), PASSWORD, NOW)
                .await,
            Err(StaffError::SetupLinkInvalid)
        ));

        let caller = {
            let signed_in = accounts
                .sign_in("ops@x.org", PASSWORD, "::1", None, NOW)
                .await
                .unwrap();
            accounts
                .authenticate(&signed_in.session_token, NOW)
                .await
                .unwrap()
                .unwrap()
        };
        accounts
            .create_tenant(&caller, "acme", "Acme Association", NOW)
            .await
            .unwrap();
        let vestibule_staff::Invited {
            staff: admin,
            token: invite,
            ..
        } = accounts
            .invite_to_team(&caller, "acme", "admin@acme.org", TenantAccess::Admin, NOW)
            .await
            .unwrap();
        assert!(!admin.has_password);
        assert_eq!(
            accounts.setup_link(&invite, NOW).await.unwrap(),
            SetupLink::Invitation {
                email: admin.email.clone()
            }
        );
        let expired = NOW + accounts.policy().setup_link_lifetime;
        assert!(matches!(
            accounts.setup_link(&invite, expired).await,
            Err(StaffError::SetupLinkInvalid)
        ));
        // The e-mail typed on an invitation is ignored: the account's address is fixed.
        accounts
            .complete_setup(&invite, Some("evil@x.org"), PASSWORD, NOW)
            .await
            .unwrap();
        accounts
            .sign_in("admin@acme.org", PASSWORD, "::1", None, NOW)
            .await
            .unwrap();
    })
    .await;
}

#[tokio::test]
async fn tenant_admins_reach_only_their_own_cloud_id() {
    for_each_backend(|db| async move {
        let accounts = accounts(&db);
        let operator = operator(&accounts).await;
        accounts
            .create_tenant(&operator, "acme", "Acme", NOW)
            .await
            .unwrap();
        accounts
            .create_tenant(&operator, "beta", "Beta", NOW)
            .await
            .unwrap();
        let invite = accounts
            .invite_to_team(
                &operator,
                "acme",
                "admin@acme.org",
                TenantAccess::Admin,
                NOW,
            )
            .await
            .unwrap()
            .token;
        accounts
            .complete_setup(&invite, None, PASSWORD, NOW)
            .await
            .unwrap();
        let signed_in = accounts
            .sign_in("admin@acme.org", PASSWORD, "::1", None, NOW)
            .await
            .unwrap();
        let admin = accounts
            .authenticate(&signed_in.session_token, NOW)
            .await
            .unwrap()
            .unwrap();

        let visible: Vec<String> = accounts
            .visible_tenants(&admin, "", 1)
            .await
            .unwrap()
            .tenants
            .into_iter()
            .map(|t| t.cloud_id.to_string())
            .collect();
        assert_eq!(visible, ["acme"]);
        // Searching does not widen what a tenant admin sees.
        let searched = accounts.visible_tenants(&admin, "beta", 1).await.unwrap();
        assert_eq!(searched.tenants.len(), 1);
        assert_eq!(searched.tenants[0].cloud_id.to_string(), "acme");
        let all = accounts.visible_tenants(&operator, "", 1).await.unwrap();
        assert_eq!((all.tenants.len(), all.total, all.pages()), (2, 2, 1));
        let beta = accounts
            .visible_tenants(&operator, "BETA", 0)
            .await
            .unwrap();
        assert_eq!((beta.total, beta.page), (1, 1));

        assert!(accounts.tenant_team(&admin, "acme").await.is_ok());
        assert!(matches!(
            accounts.tenant_team(&admin, "beta").await,
            Err(StaffError::Forbidden)
        ));
        assert!(
            matches!(
                accounts.tenant_team(&admin, "nosuch").await,
                Err(StaffError::Forbidden)
            ),
            "no probing"
        );
        assert!(matches!(
            accounts.rename_tenant(&admin, "beta", "Pwned").await,
            Err(StaffError::Forbidden)
        ));
        assert!(matches!(
            accounts
                .invite_to_team(&admin, "beta", "mole@x.org", TenantAccess::Admin, NOW)
                .await,
            Err(StaffError::Forbidden)
        ));
        assert!(matches!(
            accounts.create_tenant(&admin, "gamma", "Gamma", NOW).await,
            Err(StaffError::Forbidden)
        ));
        let beta = db
            .store()
            .tenant_by_cloud_id(&"beta".parse().unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(beta.display_name, "Beta", "nothing changed");

        // Within their own tenant they can work.
        accounts
            .rename_tenant(&admin, "acme", "Acme Assoc.")
            .await
            .unwrap();
        accounts
            .invite_to_team(&admin, "acme", "second@acme.org", TenantAccess::Admin, NOW)
            .await
            .unwrap();
        assert_eq!(
            accounts.tenant_team(&admin, "acme").await.unwrap().1.len(),
            2
        );
        assert!(matches!(
            accounts.tenant_team(&operator, "nosuch").await,
            Err(StaffError::NotFound)
        ));
    })
    .await;
}

#[tokio::test]
async fn teams_resend_revoke_and_remove_within_their_own_cloud_id() {
    for_each_backend(|db| async move {
        let accounts = accounts(&db);
        let operator = operator(&accounts).await;
        for (cloud_id, name) in [("acme", "Acme"), ("beta", "Beta")] {
            accounts
                .create_tenant(&operator, cloud_id, name, NOW)
                .await
                .unwrap();
        }
        let first = accounts
            .invite_to_team(
                &operator,
                "acme",
                "admin@acme.org",
                TenantAccess::Admin,
                NOW,
            )
            .await
            .unwrap();
        assert!(!first.resent);
        // Inviting a pending address again is a resend: a new link, the old one retired.
        let again = accounts
            .invite_to_team(
                &operator,
                "acme",
                "Admin@Acme.org",
                TenantAccess::Admin,
                NOW,
            )
            .await
            .unwrap();
        assert!(again.resent);
        assert_eq!(again.staff.id, first.staff.id);
        assert!(matches!(
            accounts.setup_link(&first.token, NOW).await,
            Err(StaffError::SetupLinkInvalid)
        ));
        let resent = accounts
            .resend_invitation(&operator, "acme", "admin@acme.org", NOW)
            .await
            .unwrap();
        assert!(matches!(
            accounts.setup_link(&again.token, NOW).await,
            Err(StaffError::SetupLinkInvalid)
        ));
        accounts
            .complete_setup(&resent.token, None, PASSWORD, NOW)
            .await
            .unwrap();
        let signed_in = accounts
            .sign_in("admin@acme.org", PASSWORD, "::1", None, NOW)
            .await
            .unwrap();
        let admin = accounts
            .authenticate(&signed_in.session_token, NOW)
            .await
            .unwrap()
            .unwrap();

        // Someone already on the team is told so; nothing to resend once a password is set.
        let error = accounts
            .invite_to_team(&admin, "acme", "admin@acme.org", TenantAccess::Admin, NOW)
            .await
            .unwrap_err();
        assert!(
            error.to_string().contains("already on this team"),
            "{error}"
        );
        assert!(matches!(
            accounts
                .resend_invitation(&admin, "acme", "admin@acme.org", NOW)
                .await,
            Err(StaffError::InvalidInput(_))
        ));
        // Nobody removes themselves; nobody reaches another tenant's team.
        assert!(matches!(
            accounts
                .remove_from_team(&admin, "acme", "admin@acme.org")
                .await,
            Err(StaffError::InvalidInput(_))
        ));
        let mole = accounts
            .invite_to_team(
                &operator,
                "beta",
                "admin@beta.org",
                TenantAccess::Admin,
                NOW,
            )
            .await
            .unwrap();
        assert!(matches!(
            accounts
                .remove_from_team(&admin, "beta", "admin@beta.org")
                .await,
            Err(StaffError::Forbidden)
        ));
        assert!(matches!(
            accounts
                .remove_from_team(&admin, "acme", "admin@beta.org")
                .await,
            Err(StaffError::NotFound)
        ));
        assert!(accounts.setup_link(&mole.token, NOW).await.is_ok());

        // Revoking a pending invitation retires its link.
        let second = accounts
            .invite_to_team(&admin, "acme", "second@acme.org", TenantAccess::Admin, NOW)
            .await
            .unwrap();
        accounts
            .remove_from_team(&admin, "acme", "second@acme.org")
            .await
            .unwrap();
        assert!(matches!(
            accounts.setup_link(&second.token, NOW).await,
            Err(StaffError::SetupLinkInvalid)
        ));
        // Removing an admin ends their sessions at once.
        accounts
            .remove_from_team(&operator, "acme", "admin@acme.org")
            .await
            .unwrap();
        assert!(accounts
            .authenticate(&signed_in.session_token, NOW)
            .await
            .unwrap()
            .is_none());
        assert!(accounts
            .tenant_team(&operator, "acme")
            .await
            .unwrap()
            .1
            .is_empty());
    })
    .await;
}

/// Invites `email` to acme's team with `access`, sets their password and signs them in: who
/// they are and their session's token.
async fn team_member(
    accounts: &StaffAccounts,
    by: &CurrentStaff,
    email: &str,
    access: TenantAccess,
) -> (CurrentStaff, String) {
    let invited = accounts
        .invite_to_team(by, "acme", email, access, NOW)
        .await
        .unwrap();
    accounts
        .complete_setup(&invited.token, None, PASSWORD, NOW)
        .await
        .unwrap();
    let signed_in = accounts
        .sign_in(email, PASSWORD, "::1", None, NOW)
        .await
        .unwrap();
    let staff = accounts
        .authenticate(&signed_in.session_token, NOW)
        .await
        .unwrap()
        .unwrap();
    (staff, signed_in.session_token)
}

#[tokio::test]
async fn read_only_members_see_their_cloud_id_and_change_nothing_until_made_admins() {
    for_each_backend(|db| async move {
        let accounts = accounts(&db);
        let operator = operator(&accounts).await;
        for (cloud_id, name) in [("acme", "Acme"), ("beta", "Beta")] {
            accounts
                .create_tenant(&operator, cloud_id, name, NOW)
                .await
                .unwrap();
        }
        let (admin, _) =
            team_member(&accounts, &operator, "admin@acme.org", TenantAccess::Admin).await;
        let (viewer, viewer_session) =
            team_member(&accounts, &admin, "viewer@acme.org", TenantAccess::ReadOnly).await;
        assert_eq!(
            viewer.staff.role,
            Role::TenantViewer(admin.staff.role.tenant().unwrap())
        );

        // Their own Cloud ID to look at, not to change; another's not even that.
        assert!(accounts.tenant_to_read(&viewer, "acme").await.is_ok());
        assert!(matches!(
            accounts.tenant_to_change(&viewer, "acme").await,
            Err(StaffError::ReadOnly)
        ));
        assert!(matches!(
            accounts.tenant_to_read(&viewer, "beta").await,
            Err(StaffError::Forbidden)
        ));
        assert!(matches!(
            accounts
                .invite_to_team(&viewer, "acme", "friend@acme.org", TenantAccess::Admin, NOW)
                .await,
            Err(StaffError::ReadOnly)
        ));
        assert!(matches!(
            accounts
                .change_team_access(&viewer, "acme", "viewer@acme.org", TenantAccess::Admin)
                .await,
            Err(StaffError::ReadOnly)
        ));
        assert!(matches!(
            accounts
                .remove_from_team(&viewer, "acme", "admin@acme.org")
                .await,
            Err(StaffError::ReadOnly)
        ));
        assert!(matches!(
            accounts.rename_tenant(&viewer, "acme", "Renamed").await,
            Err(StaffError::ReadOnly)
        ));

        // Nobody changes their own access.
        assert!(matches!(
            accounts
                .change_team_access(&admin, "acme", "admin@acme.org", TenantAccess::ReadOnly)
                .await,
            Err(StaffError::InvalidInput(_))
        ));
        // An admin makes them an admin: the session they hold changes with it.
        let (before, after) = accounts
            .change_team_access(&admin, "acme", "viewer@acme.org", TenantAccess::Admin)
            .await
            .unwrap();
        assert_eq!(before.role.tenant_access(), Some(TenantAccess::ReadOnly));
        assert_eq!(after.role.tenant_access(), Some(TenantAccess::Admin));
        let promoted = accounts
            .authenticate(&viewer_session, NOW)
            .await
            .unwrap()
            .unwrap();
        assert!(accounts.tenant_to_change(&promoted, "acme").await.is_ok());
        let team = accounts.tenant_team(&operator, "acme").await.unwrap().1;
        assert!(team
            .iter()
            .all(|staff| staff.role.tenant_access() == Some(TenantAccess::Admin)));

        // Two admins making each other read-only at the same moment: one change wins, and the
        // Cloud ID keeps an admin.
        let (first, second) = tokio::join!(
            accounts.change_team_access(&admin, "acme", "viewer@acme.org", TenantAccess::ReadOnly),
            accounts.change_team_access(
                &promoted,
                "acme",
                "admin@acme.org",
                TenantAccess::ReadOnly
            ),
        );
        assert_eq!(
            [first.is_ok(), second.is_ok()]
                .iter()
                .filter(|ok| **ok)
                .count(),
            1,
            "{first:?} {second:?}"
        );
        let team = accounts.tenant_team(&operator, "acme").await.unwrap().1;
        let admins = team
            .iter()
            .filter(|staff| staff.role.tenant_access() == Some(TenantAccess::Admin))
            .count();
        assert_eq!(admins, 1);

        // Re-inviting a pending member with other access changes it; operators change anyone.
        let pending = accounts
            .invite_to_team(
                &operator,
                "acme",
                "pending@acme.org",
                TenantAccess::Admin,
                NOW,
            )
            .await
            .unwrap();
        assert_eq!(
            pending.staff.role.tenant_access(),
            Some(TenantAccess::Admin)
        );
        let again = accounts
            .invite_to_team(
                &operator,
                "acme",
                "pending@acme.org",
                TenantAccess::ReadOnly,
                NOW,
            )
            .await
            .unwrap();
        assert!(again.resent);
        assert_eq!(
            again.staff.role.tenant_access(),
            Some(TenantAccess::ReadOnly)
        );
        let stored = accounts.tenant_team(&operator, "acme").await.unwrap().1;
        let stored = stored
            .iter()
            .find(|s| s.email.as_str() == "pending@acme.org")
            .unwrap();
        assert_eq!(stored.role.tenant_access(), Some(TenantAccess::ReadOnly));
        // An access only a team member has: the operator is never made read-only.
        assert!(matches!(
            accounts
                .change_team_access(&admin, "acme", "ops@vestibule.test", TenantAccess::ReadOnly)
                .await,
            Err(StaffError::NotFound) | Err(StaffError::ReadOnly)
        ));
    })
    .await;
}

/// Review finding: two admins removing each other at the same moment both succeeded, and the
/// Cloud ID was left without an admin. The removal re-checks the remover in its transaction.
#[tokio::test]
async fn two_admins_removing_each_other_at_once_leave_one_admin() {
    for_each_backend(|db| async move {
        let accounts = accounts(&db);
        let operator = operator(&accounts).await;
        accounts
            .create_tenant(&operator, "acme", "Acme", NOW)
            .await
            .unwrap();
        let (first, _) =
            team_member(&accounts, &operator, "first@acme.org", TenantAccess::Admin).await;
        let (second, _) =
            team_member(&accounts, &operator, "second@acme.org", TenantAccess::Admin).await;
        let (one, other) = tokio::join!(
            accounts.remove_from_team(&first, "acme", "second@acme.org"),
            accounts.remove_from_team(&second, "acme", "first@acme.org"),
        );
        assert_eq!(
            [one.is_ok(), other.is_ok()]
                .iter()
                .filter(|ok| **ok)
                .count(),
            1,
            "{one:?} {other:?}"
        );
        let refused = if one.is_ok() { other } else { one };
        assert!(matches!(refused, Err(StaffError::ReadOnly)), "{refused:?}");
        let team = accounts.tenant_team(&operator, "acme").await.unwrap().1;
        assert_eq!(team.len(), 1);
        // Removing someone who is already gone says so.
        let survivor = if team[0].email.as_str() == "first@acme.org" {
            &first
        } else {
            &second
        };
        let gone = if team[0].email.as_str() == "first@acme.org" {
            "second@acme.org"
        } else {
            "first@acme.org"
        };
        assert!(matches!(
            accounts.remove_from_team(survivor, "acme", gone).await,
            Err(StaffError::NotFound)
        ));
    })
    .await;
}

#[tokio::test]
async fn a_forgotten_password_is_replaced_through_a_single_use_hour_long_link() {
    for_each_backend(|db| async move {
        let accounts = accounts(&db);
        assert!(accounts
            .password_reset_account("nobody@vestibule.test")
            .await
            .unwrap()
            .is_none());
        assert!(accounts
            .password_reset_account("not an address")
            .await
            .unwrap()
            .is_none());

        accounts
            .add_with_password("ops@vestibule.test", Role::Operator, PASSWORD, NOW)
            .await
            .unwrap();
        let signed_in = accounts
            .sign_in("ops@vestibule.test", PASSWORD, "::1", None, NOW)
            .await
            .unwrap();

        let staff = accounts
            .password_reset_account(" OPS@vestibule.test ")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(staff.email.as_str(), "ops@vestibule.test");
        let first = accounts.password_reset_link(&staff, NOW).await.unwrap();
        let link = accounts.password_reset_link(&staff, NOW).await.unwrap();
        assert!(
            matches!(
                accounts.setup_link(&first, NOW).await,
                Err(StaffError::SetupLinkInvalid)
            ),
            "a newer link replaces the one before"
        );
        assert_eq!(
            accounts.setup_link(&link, NOW).await.unwrap(),
            SetupLink::PasswordReset {
                email: staff.email.clone()
            }
        );
        let expired = NOW + accounts.policy().reset_link_lifetime;
        assert!(matches!(
            accounts.setup_link(&link, expired).await,
            Err(StaffError::SetupLinkInvalid)
        ));

        let new_password = "a brand new long password";
        accounts
            .complete_setup(&link, Some("evil@x.org"), new_password, NOW)
            .await
            .unwrap();
        assert!(
            !accepted(&accounts, &signed_in.session_token, NOW).await,
            "a new password ends the sessions the old one opened"
        );
        assert!(matches!(
            accounts
                .sign_in("ops@vestibule.test", PASSWORD, "::1", None, NOW)
                .await,
            Err(StaffError::BadCredentials)
        ));
        accounts
            .sign_in("ops@vestibule.test", new_password, "::1", None, NOW)
            .await
            .unwrap();
        assert!(
            matches!(
                accounts
                    .complete_setup(&link, None, "yet another password!", NOW)
                    .await,
                Err(StaffError::SetupLinkInvalid)
            ),
            "the link works once"
        );
    })
    .await;
}

fn accounts_with_key(db: &TestDatabase) -> StaffAccounts {
    accounts(db).with_secret_key(
        vestibule_secrets::SecretKey::from_base64(&vestibule_secrets::SecretKey::generate_base64())
            .unwrap(),
    )
}

/// The challenge a right password leaves when a second factor is needed.
fn challenge(outcome: Result<vestibule_staff::SignedIn, StaffError>) -> String {
    match outcome {
        Err(StaffError::SecondFactorNeeded { challenge }) => challenge,
        other => panic!("expected a second-factor challenge, got {other:?}"),
    }
}

#[tokio::test]
async fn with_an_authenticator_app_a_password_alone_does_not_sign_in() {
    use vestibule_staff::totp::TotpSecret;
    for_each_backend(|db| async move {
        let accounts = accounts_with_key(&db);
        let caller = operator(&accounts).await;
        assert!(!accounts
            .second_factor_status(&caller)
            .await
            .unwrap()
            .enrolled());

        let setup = accounts
            .begin_totp(&caller, "Vestibule (test)", NOW)
            .await
            .unwrap();
        assert!(setup
            .uri
            .starts_with("otpauth://totp/Vestibule%20%28test%29:ops@vestibule.test?secret="));
        let secret = TotpSecret::from_base32(&setup.secret).unwrap();
        // Until confirmed, sign-in does not ask for it.
        accounts
            .sign_in("ops@vestibule.test", PASSWORD, "::1", None, NOW)
            .await
            .unwrap();
        assert!(matches!(
            accounts.confirm_totp(&caller, "000000", NOW).await,
            Err(StaffError::BadSecondFactor)
        ));
        let recovery = accounts
            .confirm_totp(&caller, &secret.code_at(NOW), NOW)
            .await
            .unwrap();
        assert_eq!(recovery.len(), vestibule_staff::RECOVERY_CODES);
        let status = accounts.second_factor_status(&caller).await.unwrap();
        assert!(status.enrolled());
        assert_eq!(status.recovery_codes_left, 10);
        assert!(matches!(
            accounts.begin_totp(&caller, "Vestibule (test)", NOW).await,
            Err(StaffError::Conflict(_))
        ));

        // The password alone now gives a challenge, not a session.
        let first = challenge(
            accounts
                .sign_in("ops@vestibule.test", PASSWORD, "::1", None, NOW)
                .await,
        );
        assert!(matches!(
            accounts
                .sign_in("ops@vestibule.test", "wrong password", "::1", None, NOW)
                .await,
            Err(StaffError::BadCredentials)
        ));
        assert!(matches!(
            accounts
                .complete_second_factor(&first, Code("123456"), "::1", None, NOW)
                .await,
            Err(StaffError::BadSecondFactor)
        ));
        // The code that confirmed the app was used: not accepted again.
        assert!(matches!(
            accounts
                .complete_second_factor(&first, Code(&secret.code_at(NOW)), "::1", None, NOW)
                .await,
            Err(StaffError::BadSecondFactor)
        ));
        let later = NOW + Seconds(30);
        let signed_in = accounts
            .complete_second_factor(&first, Code(&secret.code_at(later)), "::1", None, later)
            .await
            .unwrap();
        assert!(accepted(&accounts, &signed_in.session_token, later).await);
        assert!(
            matches!(
                accounts
                    .complete_second_factor(
                        &first,
                        Code(&secret.code_at(later + Seconds(30))),
                        "::1",
                        None,
                        later
                    )
                    .await,
                Err(StaffError::ChallengeExpired)
            ),
            "a challenge starts one session"
        );

        // A recovery code works once, in any case and with spaces.
        let second = challenge(
            accounts
                .sign_in("ops@vestibule.test", PASSWORD, "::1", None, later)
                .await,
        );
        let typed = recovery[0].to_lowercase().replace('-', " ");
        accounts
            .complete_second_factor(&second, Code(&typed), "::1", None, later)
            .await
            .unwrap();
        let third = challenge(
            accounts
                .sign_in("ops@vestibule.test", PASSWORD, "::1", None, later)
                .await,
        );
        assert!(matches!(
            accounts
                .complete_second_factor(&third, Code(&recovery[0]), "::1", None, later)
                .await,
            Err(StaffError::BadSecondFactor)
        ));
        assert_eq!(
            accounts
                .second_factor_status(&caller)
                .await
                .unwrap()
                .recovery_codes_left,
            9
        );
        // A challenge lasts minutes.
        let expired = later + vestibule_staff::CHALLENGE_LIFETIME;
        assert!(matches!(
            accounts
                .complete_second_factor(
                    &third,
                    Code(&secret.code_at(expired)),
                    "::1",
                    None,
                    expired
                )
                .await,
            Err(StaffError::ChallengeExpired)
        ));

        // Removing the app takes a code; then the password alone signs in again.
        assert!(matches!(
            accounts.remove_totp(&caller, "999999", expired).await,
            Err(StaffError::BadSecondFactor)
        ));
        let much_later = expired + Seconds(60);
        accounts
            .remove_totp(&caller, &secret.code_at(much_later), much_later)
            .await
            .unwrap();
        accounts
            .sign_in("ops@vestibule.test", PASSWORD, "::1", None, much_later)
            .await
            .unwrap();
    })
    .await;
}

#[tokio::test]
async fn wrong_codes_are_limited_like_wrong_passwords() {
    use vestibule_staff::totp::TotpSecret;
    for_each_backend(|db| async move {
        let accounts = accounts_with_key(&db);
        let caller = operator(&accounts).await;
        let setup = accounts
            .begin_totp(&caller, "Vestibule", NOW)
            .await
            .unwrap();
        let secret = TotpSecret::from_base32(&setup.secret).unwrap();
        accounts
            .confirm_totp(&caller, &secret.code_at(NOW), NOW)
            .await
            .unwrap();
        let pending = challenge(
            accounts
                .sign_in("ops@vestibule.test", PASSWORD, "::1", None, NOW)
                .await,
        );
        let limit = accounts.policy().failures_per_account;
        for _ in 0..limit {
            let _ = accounts
                .complete_second_factor(&pending, Code("000000"), "::1", None, NOW)
                .await;
        }
        let later = NOW + Seconds(30);
        assert!(matches!(
            accounts
                .complete_second_factor(&pending, Code(&secret.code_at(later)), "::1", None, later)
                .await,
            Err(StaffError::TooManyAttempts { .. })
        ));
    })
    .await;
}

#[tokio::test]
async fn a_cloud_id_can_require_its_admins_to_add_a_second_factor() {
    use vestibule_staff::totp::TotpSecret;
    for_each_backend(|db| async move {
        let accounts = accounts_with_key(&db);
        let operator = operator(&accounts).await;
        accounts
            .create_tenant(&operator, "acme", "Acme", NOW)
            .await
            .unwrap();
        let invite = accounts
            .invite_to_team(
                &operator,
                "acme",
                "admin@acme.org",
                TenantAccess::Admin,
                NOW,
            )
            .await
            .unwrap()
            .token;
        accounts
            .complete_setup(&invite, None, PASSWORD, NOW)
            .await
            .unwrap();
        let session = accounts
            .sign_in("admin@acme.org", PASSWORD, "::1", None, NOW)
            .await
            .unwrap()
            .session_token;
        let admin = accounts.authenticate(&session, NOW).await.unwrap().unwrap();
        assert!(!admin.must_add_second_factor);
        assert!(!accounts
            .tenant_requires_second_factor(&admin, "acme")
            .await
            .unwrap());
        accounts
            .require_second_factor_for_tenant(&operator, "acme", true)
            .await
            .unwrap();
        let admin = accounts.authenticate(&session, NOW).await.unwrap().unwrap();
        assert!(admin.must_add_second_factor);
        assert!(matches!(
            admin.require_second_factor_in_place(),
            Err(StaffError::SecondFactorSetupNeeded)
        ));
        // Operators are not tenant admins: the Cloud ID's rule is not theirs.
        let operator = accounts
            .authenticate(
                &accounts
                    .sign_in("ops@vestibule.test", PASSWORD, "::1", None, NOW)
                    .await
                    .unwrap()
                    .session_token,
                NOW,
            )
            .await
            .unwrap()
            .unwrap();
        assert!(!operator.must_add_second_factor);

        let setup = accounts.begin_totp(&admin, "Vestibule", NOW).await.unwrap();
        let secret = TotpSecret::from_base32(&setup.secret).unwrap();
        accounts
            .confirm_totp(&admin, &secret.code_at(NOW), NOW)
            .await
            .unwrap();
        let admin = accounts.authenticate(&session, NOW).await.unwrap().unwrap();
        assert!(!admin.must_add_second_factor);
    })
    .await;
}

#[tokio::test]
async fn with_a_passkey_a_password_alone_does_not_sign_in_and_forged_answers_are_refused() {
    use vestibule_staff::SecondFactorProof::Passkey;
    for_each_backend(|db| async move {
        // On an IP address browsers refuse passkeys: none are offered.
        let on_an_address = accounts_with_key(&db).with_passkeys("http://127.0.0.1:3000");
        let caller = operator(&on_an_address).await;
        assert!(!on_an_address.passkeys_available());
        assert!(matches!(
            on_an_address.begin_passkey(&caller, NOW).await,
            Err(StaffError::PasskeysUnavailable)
        ));

        let accounts = accounts_with_key(&db).with_passkeys("https://dashboard.vestibule.test");
        let ceremony = accounts.begin_passkey(&caller, NOW).await.unwrap();
        let options: serde_json::Value = serde_json::from_str(&ceremony.options).unwrap();
        assert_eq!(options["rp"]["id"], "dashboard.vestibule.test");
        assert_eq!(options["user"]["name"], "ops@vestibule.test");
        assert_eq!(
            options["authenticatorSelection"]["userVerification"],
            "required"
        );
        // A browser answer that is not a credential adds nothing.
        assert!(matches!(
            accounts
                .finish_passkey(&caller, "Laptop", &ceremony.state, "{}", NOW)
                .await,
            Err(StaffError::PasskeyNotAdded(_))
        ));
        // The state is bound to its staff member and its five minutes.
        let other = accounts
            .add_with_password("other@vestibule.test", Role::Operator, PASSWORD, NOW)
            .await
            .unwrap();
        let other = CurrentStaff {
            staff: other,
            ..caller.clone()
        };
        assert!(matches!(
            accounts
                .finish_passkey(&other, "Laptop", &ceremony.state, "{}", NOW)
                .await,
            Err(StaffError::ChallengeExpired)
        ));
        let late = NOW + Seconds::minutes(6);
        assert!(matches!(
            accounts
                .finish_passkey(&caller, "Laptop", &ceremony.state, "{}", late)
                .await,
            Err(StaffError::ChallengeExpired)
        ));

        // With a passkey stored (as a real ceremony would store it), a right password alone
        // leaves a challenge, and the challenge is not answered by a forged assertion.
        db.store()
            .insert_staff_passkey(caller.staff.id, "Y3JlZGVudGlhbA", "Laptop", "{}", NOW)
            .await
            .unwrap();
        assert!(accounts
            .second_factor_status(&caller)
            .await
            .unwrap()
            .enrolled());
        let pending = challenge(
            accounts
                .sign_in("ops@vestibule.test", PASSWORD, "::1", None, NOW)
                .await,
        );
        assert!(!accounts
            .sign_in_has_authenticator_app(&pending, NOW)
            .await
            .unwrap());
        assert!(matches!(
            accounts
                .complete_second_factor(
                    &pending,
                    Passkey {
                        state: &ceremony.state,
                        credential: "{}",
                    },
                    "::1",
                    None,
                    NOW,
                )
                .await,
            Err(StaffError::PasskeyRefused)
        ));
        // Forged answers count like wrong passwords.
        let mut refused = None;
        for _ in 0..20 {
            let outcome = accounts
                .complete_second_factor(
                    &pending,
                    Passkey {
                        state: "forged",
                        credential: "{}",
                    },
                    "::1",
                    None,
                    NOW,
                )
                .await;
            if !matches!(outcome, Err(StaffError::PasskeyRefused)) {
                refused = Some(outcome);
                break;
            }
        }
        assert!(matches!(
            refused,
            Some(Err(StaffError::TooManyAttempts { .. }))
        ));

        // Removing a passkey takes the password; an operator's reset removes them all.
        let id = accounts.passkeys(&caller).await.unwrap()[0].id;
        assert!(matches!(
            accounts
                .remove_passkey(&caller, id, "not the password", NOW)
                .await,
            Err(StaffError::WrongPassword)
        ));
        db.store()
            .insert_staff_passkey(caller.staff.id, "c2Vjb25k", "Key", "{}", NOW)
            .await
            .unwrap();
        assert!(matches!(
            db.store()
                .insert_staff_passkey(other.staff.id, "c2Vjb25k", "Key", "{}", NOW)
                .await,
            Err(vestibule_storage::StorageError::Conflict(
                vestibule_storage::Conflict::PasskeyRegistered
            ))
        ));
        let removed = accounts
            .remove_passkey(&caller, id, PASSWORD, NOW + Seconds::hours(1))
            .await
            .unwrap();
        assert_eq!(removed.name, "Laptop");
        accounts
            .reset_second_factor("ops@vestibule.test")
            .await
            .unwrap();
        assert!(accounts.passkeys(&caller).await.unwrap().is_empty());
        accounts
            .sign_in(
                "ops@vestibule.test",
                PASSWORD,
                "::2",
                None,
                NOW + Seconds::hours(1),
            )
            .await
            .unwrap();
    })
    .await;
}

#[tokio::test]
async fn wrong_passwords_when_removing_a_passkey_count_once_toward_the_sign_in_limit() {
    for_each_backend(|db| async move {
        let accounts = accounts_with_key(&db).with_passkeys("https://dashboard.vestibule.test");
        let caller = operator(&accounts).await;
        db.store()
            .insert_staff_passkey(caller.staff.id, "Y3JlZA", "Laptop", "{}", NOW)
            .await
            .unwrap();
        let id = accounts.passkeys(&caller).await.unwrap()[0].id;
        for _ in 0..accounts.policy().failures_per_account {
            let outcome = accounts.remove_passkey(&caller, id, "wrong", NOW).await;
            assert!(
                matches!(outcome, Err(StaffError::WrongPassword)),
                "{outcome:?}"
            );
        }
        // The account's limit is sign-in's: reached here, it holds there too.
        assert!(matches!(
            accounts.remove_passkey(&caller, id, PASSWORD, NOW).await,
            Err(StaffError::TooManyAttempts { .. })
        ));
        assert!(matches!(
            accounts
                .sign_in("ops@vestibule.test", PASSWORD, "::9", None, NOW)
                .await,
            Err(StaffError::TooManyAttempts { .. })
        ));
    })
    .await;
}

//! What Vestibule writes to people, in words: staff invitations and password resets, members'
//! password resets. Plain text only: every mail client shows it, and no HTML needs escaping.

use vestibule_domain::{Email, Seconds, TenantId};

/// Why a message is sent: stored with it, shown to operators, and the unit of the limit on how
/// often one address gets mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailKind {
    StaffInvitation,
    StaffPasswordReset,
    MemberPasswordReset,
    /// An operator's `vestibule mail test`.
    Test,
    /// A change to how someone signs in (a second factor added or removed).
    SecurityNotice,
    /// A tenant's domain certificate could not be renewed.
    CertificateWarning,
    /// A tenant's members keep failing to sign in with iMIS for a reason only its admins can fix.
    ImisWarning,
    /// A tenant's SAML apps need its admins: a service provider certificate expiring, metadata
    /// that fails to read or waits for approval.
    SamlAppWarning,
}

impl MailKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::StaffInvitation => "staff_invitation",
            Self::StaffPasswordReset => "staff_password_reset",
            Self::MemberPasswordReset => "member_password_reset",
            Self::Test => "test",
            Self::SecurityNotice => "security_notice",
            Self::CertificateWarning => "certificate_warning",
            Self::ImisWarning => "imis_warning",
            Self::SamlAppWarning => "saml_app_warning",
        }
    }

    /// The kind stored as `kind`.
    pub fn parse(kind: &str) -> Option<Self> {
        [
            Self::StaffInvitation,
            Self::StaffPasswordReset,
            Self::MemberPasswordReset,
            Self::Test,
            Self::SecurityNotice,
            Self::CertificateWarning,
            Self::ImisWarning,
            Self::SamlAppWarning,
        ]
        .into_iter()
        .find(|candidate| candidate.as_str() == kind)
    }

    /// Words for an operator reading the outbox.
    pub fn label(self) -> &'static str {
        match self {
            Self::StaffInvitation => "Dashboard invitation",
            Self::StaffPasswordReset => "Dashboard password reset",
            Self::MemberPasswordReset => "Member password reset",
            Self::Test => "Test message",
            Self::SecurityNotice => "Sign-in change notice",
            Self::CertificateWarning => "Certificate renewal warning",
            Self::ImisWarning => "iMIS sign-in warning",
            Self::SamlAppWarning => "SAML app warning",
        }
    }
}

/// One message to one person.
/// What [`Mail::imis_sign_ins_failing`] tells: `failures` in the last `minutes` at `cloud_id`,
/// the latest `outcome` and its technical `detail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImisFailures<'a> {
    pub cloud_id: &'a str,
    pub failures: usize,
    pub minutes: i64,
    pub outcome: &'a str,
    pub detail: &'a str,
}

/// Which way of signing in to the dashboard changed, for [`Mail::second_factor_changed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecondFactorChange<'a> {
    AppAdded,
    AppRemoved,
    PasskeyAdded(&'a str),
    PasskeyRemoved(&'a str),
    /// An operator removed all of them (a lost device).
    AllRemoved,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    /// The tenant it is sent for, if any (an operator's invitation has none).
    pub tenant: Option<TenantId>,
    pub kind: MailKind,
    pub to: Email,
    /// The name in `From:`; the address is the deployment's.
    pub from_name: String,
    pub reply_to: Option<Email>,
    pub subject: String,
    pub body: String,
}

fn lifetime_in_words(lifetime: Seconds) -> String {
    let hours = lifetime.0 / 3600;
    if hours >= 48 && hours % 24 == 0 {
        format!("{} days", hours / 24)
    } else if hours >= 2 {
        format!("{hours} hours")
    } else if hours == 1 && lifetime.0 % 3600 == 0 {
        "one hour".to_string()
    } else {
        format!("{} minutes", (lifetime.0 / 60).max(1))
    }
}

/// From-name every dashboard message is sent under.
pub const DASHBOARD_SENDER: &str = "Vestibule";

impl Mail {
    /// What `vestibule mail test` sends: proof that the SMTP settings work.
    pub fn test(to: Email) -> Self {
        Self {
            tenant: None,
            kind: MailKind::Test,
            to,
            from_name: DASHBOARD_SENDER.to_string(),
            reply_to: None,
            subject: "Vestibule test message".to_string(),
            body: "This message shows that Vestibule can send e-mail through its SMTP server.\n"
                .to_string(),
        }
    }

    /// An invitation to the Cloud Dashboard: `link` is the one-time setup link. `team` is the
    /// Cloud ID's display name for tenant admins, `None` for operators.
    pub fn staff_invitation(
        to: Email,
        tenant: Option<(TenantId, &str)>,
        link: &str,
        lifetime: Seconds,
    ) -> Self {
        let what = match tenant {
            Some((_, name)) => format!("manage single sign-on for {name}"),
            None => "operate this Vestibule installation".to_string(),
        };
        Self {
            tenant: tenant.map(|(id, _)| id),
            kind: MailKind::StaffInvitation,
            to,
            from_name: DASHBOARD_SENDER.to_string(),
            reply_to: None,
            subject: "You are invited to the Vestibule Cloud Dashboard".to_string(),
            body: format!(
                "Hello,\n\n\
                 You have been invited to the Vestibule Cloud Dashboard to {what}.\n\n\
                 Choose your password here (the link works once, for {}):\n\n{link}\n\n\
                 If you did not expect this invitation, you can ignore this message: nothing \
                 happens until the link is used.\n",
                lifetime_in_words(lifetime)
            ),
        }
    }

    /// A notice that a way of signing in to the dashboard was added or removed, so a change
    /// the staff member did not make does not go unnoticed. `by` names the operator who made it
    /// for them.
    pub fn second_factor_changed(
        to: Email,
        change: SecondFactorChange<'_>,
        by: Option<&str>,
        dashboard: &str,
    ) -> Self {
        let (subject, what) = match change {
            SecondFactorChange::AppAdded => (
                "An authenticator app was added to your account".to_string(),
                "An authenticator app was added to your Cloud Dashboard account: signing in now \
                 takes a code from it (or a passkey) after your password."
                    .to_string(),
            ),
            SecondFactorChange::AppRemoved => (
                "The authenticator app was removed from your account".to_string(),
                "The authenticator app was removed from your Cloud Dashboard account.".to_string(),
            ),
            SecondFactorChange::PasskeyAdded(name) => (
                "A passkey was added to your account".to_string(),
                format!(
                    "A passkey named \"{name}\" was added to your Cloud Dashboard account: \
                     signing in now takes it (or another second factor) after your password."
                ),
            ),
            SecondFactorChange::PasskeyRemoved(name) => (
                "A passkey was removed from your account".to_string(),
                format!(
                    "The passkey named \"{name}\" was removed from your Cloud Dashboard account."
                ),
            ),
            SecondFactorChange::AllRemoved => (
                "Two-step verification was turned off for your account".to_string(),
                "Your authenticator app and passkeys were removed from your Cloud Dashboard \
                 account: signing in takes your password alone until you add one again."
                    .to_string(),
            ),
        };
        let who = by.map_or_else(String::new, |operator| {
            format!(" The change was made by the operator {operator}.")
        });
        Self {
            tenant: None,
            kind: MailKind::SecurityNotice,
            to,
            from_name: DASHBOARD_SENDER.to_string(),
            reply_to: None,
            subject,
            body: format!(
                "Hello,\n\n{what}{who}\n\nIf you did not make this change, sign in at \
                 {dashboard} and check your account, and tell your operators at once.\n"
            ),
        }
    }

    /// A warning to a Cloud ID's admins that their domain's certificate could not be renewed:
    /// the current one still serves until `expires` (when known), and `reason` says what failed
    /// in words they can act on.
    pub fn certificate_renewal_failing(
        to: Email,
        tenant: TenantId,
        domain: &str,
        reason: &str,
        expires: Option<&str>,
        domain_setup: &str,
    ) -> Self {
        let until = expires.map_or_else(String::new, |at| format!(" until {at}"));
        Self {
            tenant: Some(tenant),
            kind: MailKind::CertificateWarning,
            to,
            from_name: DASHBOARD_SENDER.to_string(),
            reply_to: None,
            subject: format!("The certificate of {domain} could not be renewed"),
            body: format!(
                "Hello,\n\nVestibule could not renew the HTTPS certificate of {domain}:\n\n  \
                 {reason}\n\nThe current certificate stays in use{until}, and Vestibule keeps \
                 trying. If the cause is on your side (the CNAME record, a CAA record), fix it \
                 and the next attempt succeeds; if not, forward this to your Vestibule \
                 operators.\n\nDomain Setup shows the state: {domain_setup}\n\nYou get \
                 this warning at most once a day while renewal keeps failing.\n"
            ),
        }
    }

    /// A warning to a Cloud ID's admins that its members keep failing to sign in with iMIS for a
    /// reason only they can fix.
    pub fn imis_sign_ins_failing(
        to: Email,
        tenant: TenantId,
        failing: &ImisFailures<'_>,
        dashboard: &str,
    ) -> Self {
        let ImisFailures {
            cloud_id,
            failures,
            minutes,
            outcome,
            detail,
        } = *failing;
        Self {
            tenant: Some(tenant),
            kind: MailKind::ImisWarning,
            to,
            from_name: DASHBOARD_SENDER.to_string(),
            reply_to: None,
            subject: format!("Members of {cloud_id} cannot sign in with iMIS"),
            body: format!(
                "Hello,\n\n{failures} member sign-ins to {cloud_id} failed in the last {minutes} \
                 minutes for a reason on the iMIS side, which members cannot fix themselves.\n\n\
                 The latest: {outcome}\n  {detail}\n\nSettings → iMIS connection → Test \
                 connection shows which step fails: {dashboard}/t/{cloud_id}/settings\n\
                 Members lists each sign-in with its technical cause: \
                 {dashboard}/t/{cloud_id}/members\n\nYou get this warning at most once a day \
                 while it lasts.\n"
            ),
        }
    }

    /// A warning to a Cloud ID's admins of what its SAML apps need before sign-ins break, one
    /// `(app, what it needs)` per line.
    pub fn saml_apps_need_attention(
        to: Email,
        tenant: TenantId,
        cloud_id: &str,
        needs: &[(String, String)],
        dashboard: &str,
    ) -> Self {
        let lines: String = needs
            .iter()
            .map(|(app, need)| format!("- {app}: {need}\n"))
            .collect();
        Self {
            tenant: Some(tenant),
            kind: MailKind::SamlAppWarning,
            to,
            from_name: DASHBOARD_SENDER.to_string(),
            reply_to: None,
            subject: format!("SAML apps of {cloud_id} need you before sign-ins break"),
            body: format!(
                "Hello,\n\nSAML apps of {cloud_id} need an admin:\n\n{lines}\nEach app's \
                 page in SAML Client Apps says more: {dashboard}/t/{cloud_id}/saml\n\nYou get \
                 this warning at most once a day while it lasts.\n"
            ),
        }
    }

    /// A link to choose a new dashboard password.
    pub fn staff_password_reset(to: Email, link: &str, lifetime: Seconds) -> Self {
        Self {
            tenant: None,
            kind: MailKind::StaffPasswordReset,
            to,
            from_name: DASHBOARD_SENDER.to_string(),
            reply_to: None,
            subject: "Choose a new password for the Vestibule Cloud Dashboard".to_string(),
            body: format!(
                "Hello,\n\n\
                 Someone asked to reset the password of this address's Cloud Dashboard \
                 account. Choose a new password here (the link works once, for {}):\n\n{link}\n\n\
                 Choosing a new password signs you out everywhere. If you did not ask for this, \
                 ignore this message: your password stays as it is.\n",
                lifetime_in_words(lifetime)
            ),
        }
    }

    /// A link for a directory member to choose a new password, sent in the association's name.
    /// `support` is the association's support contact, if Settings name one.
    pub fn member_password_reset(
        to: Email,
        tenant: TenantId,
        association: &str,
        username: &str,
        link: &str,
        lifetime: Seconds,
        support: Option<&str>,
    ) -> Self {
        let reply_to = support.and_then(|s| Email::parse(s).ok());
        let help = match support {
            Some(contact) => format!("\nQuestions? Contact {contact}.\n"),
            None => String::new(),
        };
        Self {
            tenant: Some(tenant),
            kind: MailKind::MemberPasswordReset,
            to,
            from_name: association.to_string(),
            reply_to,
            subject: format!("Choose a new password for {association}"),
            body: format!(
                "Hello,\n\n\
                 Someone asked to reset the password of the {association} sign-in with the \
                 username {username}. Choose a new password here (the link works once, for \
                 {}):\n\n{link}\n\n\
                 If you did not ask for this, ignore this message: your password stays as it \
                 is.\n{help}",
                lifetime_in_words(lifetime)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_read_as_people_say_them() {
        assert_eq!(lifetime_in_words(Seconds::hours(72)), "3 days");
        assert_eq!(lifetime_in_words(Seconds::hours(1)), "one hour");
        assert_eq!(lifetime_in_words(Seconds::hours(5)), "5 hours");
        assert_eq!(lifetime_in_words(Seconds::minutes(30)), "30 minutes");
    }

    #[test]
    fn a_member_reset_replies_to_the_association_and_names_the_username() {
        let to = Email::parse("jane@example.org").unwrap();
        let mail = Mail::member_password_reset(
            to,
            TenantId(7),
            "Acme Society",
            "jane",
            "https://sso.acme.org/password/reset?token=abc",
            Seconds::hours(1),
            Some("help@acme.org"),
        );
        assert_eq!(mail.from_name, "Acme Society");
        assert_eq!(mail.reply_to.unwrap().to_string(), "help@acme.org");
        assert!(mail.body.contains("username jane"));
        assert!(mail
            .body
            .contains("https://sso.acme.org/password/reset?token=abc"));
        assert!(mail.body.contains("Contact help@acme.org"));
    }

    #[test]
    fn a_saml_app_warning_lists_each_app_and_links_to_the_apps_page() {
        let to = Email::parse("admin@acme.org").unwrap();
        let needs = [
            (
                "Events".to_string(),
                "Reading its metadata failed: timeout".to_string(),
            ),
            (
                "Zoom".to_string(),
                "the service provider's signing certificate expires on 2027-01-02.".to_string(),
            ),
        ];
        let mail = Mail::saml_apps_need_attention(
            to,
            TenantId(7),
            "acme",
            &needs,
            "https://dashboard.vestibule.example",
        );
        assert_eq!(mail.kind, MailKind::SamlAppWarning);
        assert!(mail
            .body
            .contains("- Events: Reading its metadata failed: timeout\n- Zoom: the service"));
        assert!(mail
            .body
            .contains("https://dashboard.vestibule.example/t/acme/saml"));
        assert_eq!(
            MailKind::parse("saml_app_warning"),
            Some(MailKind::SamlAppWarning)
        );
    }
}

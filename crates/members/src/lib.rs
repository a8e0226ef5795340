//! Members signing in on a tenant's domain.
//!
//! Two identity sources sit behind one [`Member`]: the tenant's iMIS (the member signs in on the
//! iMIS site, whose SSO page posts a single-use refresh token back to us) and Vestibule's
//! built-in member directory (username and argon2id password). Either way the result is a
//! server-side member session holding the profile the protocols turn into claims.
//!
//! iMIS sends nothing of ours back, so a sign-in we start is remembered as a *pending sign-in*
//! keyed by a cookie; the callback takes it (once) to learn where the member was going.

mod directory;
mod error;
mod logo;
mod member;

use std::sync::{Arc, OnceLock};

use vestibule_domain::{Seconds, SessionCheck, SessionLifetime, TenantId, Timestamp};
use vestibule_imis::{AccessToken, ImisError};
use vestibule_secrets::token::{random_token, token_hash};
use vestibule_settings::{ImisConnection, TenantSettings};
use vestibule_staff::PasswordHasher;
use vestibule_storage::{
    MemberSessionRecord, PasswordLimits, PasswordOutcome, PendingSignInRecord, SignInEventRecord,
    StorageError, Store,
};

pub use directory::{DirectoryMember, NewDirectoryMember};
pub use error::{MembersError, SignInOutcome};
pub use logo::{Logo, MAX_LOGO_BYTES};
pub use member::Member;
pub use vestibule_domain::IdentitySource;
pub use vestibule_storage::SignInEventRecord as SignInEvent;

/// Which RiSE client application a sign-in goes through; each has its own Login Redirect URL
/// (`/imis/callback` and `/saml/imis/callback`) and its own credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImisFlow {
    OpenIdConnect,
    Saml,
}

/// How long member sessions and pending sign-ins last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberPolicy {
    pub sessions: SessionLifetime,
    /// How long a member may take at the iMIS sign-in page before the pending sign-in lapses.
    pub pending_timeout: Seconds,
    /// Failed directory sign-ins allowed per username, and per client address, per window.
    pub failures_per_member: i64,
    pub failures_per_address: i64,
    pub failure_window: Seconds,
    /// How long a directory member's password-reset link works.
    pub reset_link_lifetime: Seconds,
    /// "Forgot password" requests allowed per client address per `failure_window`.
    pub reset_requests_per_address: i64,
}

impl Default for MemberPolicy {
    fn default() -> Self {
        Self {
            sessions: SessionLifetime {
                idle_timeout: Seconds::minutes(30),
                absolute_timeout: Seconds::hours(10),
            },
            pending_timeout: Seconds::minutes(15),
            failures_per_member: 5,
            failures_per_address: 30,
            failure_window: Seconds::minutes(15),
            reset_link_lifetime: Seconds::hours(1),
            reset_requests_per_address: 10,
        }
    }
}

/// Who is signing in from where, and to what: the client's address keys the per-address
/// failure limit; the application names the sign-in in the tenant's sign-in log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SignInAttempt<'a> {
    pub client: &'a str,
    /// The application the member is signing in to, as the audit log names it ("OIDC app
    /// Events (events-portal)"); empty on the hosted page with nowhere to go.
    pub application: &'a str,
}

impl<'a> SignInAttempt<'a> {
    /// An attempt from this client address, to no application in particular.
    pub fn by(client: &'a str) -> Self {
        Self {
            client,
            application: "",
        }
    }

    pub fn to_application(self, application: &'a str) -> Self {
        Self {
            application,
            ..self
        }
    }
}

/// A member's session as the hosted pages and protocols see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberSession {
    pub member: Member,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

/// A sign-in started: the cookie value that remembers it and where to send the member.
#[derive(Debug)]
pub struct StartedSignIn {
    pub pending_token: String,
    pub sso_page: String,
}

/// A member signed in: the session cookie's value, who they are, and what they were doing.
#[derive(Debug)]
pub struct SignedIn {
    pub session_token: String,
    pub member: Member,
    /// Where the member was going, when the sign-in was started here; `None` when the member
    /// came from the iMIS SSO page on their own (or took too long).
    pub return_to: Option<String>,
    /// The protocol request to answer now, as the protocol saved it.
    pub resume: Option<String>,
}

#[derive(Clone)]
pub struct Members {
    store: Store,
    settings: TenantSettings,
    hasher: PasswordHasher,
    policy: MemberPolicy,
    /// Shared by every clone, so an observer set once hears them all.
    observer: Arc<OnceLock<SignInObserver>>,
    trouble_observer: Arc<OnceLock<ImisTroubleObserver>>,
}

/// Told of every sign-in outcome as it is recorded: the identity source (`imis`, `directory`)
/// and the outcome (`signed in`, `wrong password`, `iMIS unavailable`, …; a small fixed set).
/// The server counts them for its metrics.
pub type SignInObserver = Arc<dyn Fn(&str, &str) + Send + Sync>;

/// An iMIS sign-in failure only the tenant's admins can fix (see
/// [`SignInOutcome::is_for_admins`]), told once it is recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImisTrouble {
    pub tenant: TenantId,
    pub outcome: &'static str,
    /// The technical cause, as the Members page shows it.
    pub detail: String,
    pub at: Timestamp,
}

/// Hears each [`ImisTrouble`] (the server warns the tenant's admins when it lasts).
pub type ImisTroubleObserver = Arc<dyn Fn(ImisTrouble) + Send + Sync>;

impl Members {
    pub fn new(
        store: Store,
        settings: TenantSettings,
        hasher: PasswordHasher,
        policy: MemberPolicy,
    ) -> Self {
        Self {
            store,
            settings,
            hasher,
            policy,
            observer: Arc::default(),
            trouble_observer: Arc::default(),
        }
    }

    /// Sets the one observer of sign-in outcomes; false when one was set before.
    pub fn observe_sign_ins(&self, observer: SignInObserver) -> bool {
        self.observer.set(observer).is_ok()
    }

    /// Sets the one listener told of iMIS failures only the tenant's admins can fix; false
    /// when one was set before.
    pub fn observe_imis_trouble(&self, observer: ImisTroubleObserver) -> bool {
        self.trouble_observer.set(observer).is_ok()
    }

    pub fn policy(&self) -> MemberPolicy {
        self.policy
    }

    /// Where the tenant's members sign in.
    pub async fn identity_source(&self, tenant: TenantId) -> Result<IdentitySource, MembersError> {
        Ok(self.settings.get(tenant).await?.identity_source)
    }

    // --- iMIS ------------------------------------------------------------------------------------

    /// The tenant's iMIS connection, read once per sign-in. Tenants that chose the member
    /// directory accept no iMIS sign-ins, even with iMIS set up.
    async fn imis_connection(&self, tenant: TenantId) -> Result<ImisConnection, MembersError> {
        let directory = || {
            MembersError::NotConfigured(
                "members sign in with the member directory; iMIS sign-in is turned off in \
                 Settings"
                    .to_string(),
            )
        };
        match self.settings.connection(tenant).await? {
            Some(connection) if connection.identity_source == IdentitySource::Directory => {
                Err(directory())
            }
            Some(connection) => Ok(connection),
            None if self.identity_source(tenant).await? == IdentitySource::Directory => {
                Err(directory())
            }
            None => Err(MembersError::NotConfigured(
                "no iMIS address is saved in Settings".to_string(),
            )),
        }
    }

    /// Starts an iMIS sign-in: remembers where the member is going (`return_to`, a path on the
    /// tenant's domain) and the protocol request to resume, and names the SSO page to send
    /// them to. OpenID Connect's client application is used when both are set up, unless the
    /// protocol asks for SAML.
    pub async fn start_imis_sign_in(
        &self,
        tenant: TenantId,
        prefer: Option<ImisFlow>,
        return_to: &str,
        resume: &str,
        application: &str,
        now: Timestamp,
    ) -> Result<StartedSignIn, MembersError> {
        let started = self
            .start_pending(tenant, prefer, return_to, resume, application, now)
            .await;
        if let Err(error) = &started {
            self.record(
                tenant,
                IdentitySource::Imis,
                "",
                application,
                Err(error),
                now,
            )
            .await;
        }
        started
    }

    async fn start_pending(
        &self,
        tenant: TenantId,
        prefer: Option<ImisFlow>,
        return_to: &str,
        resume: &str,
        application: &str,
        now: Timestamp,
    ) -> Result<StartedSignIn, MembersError> {
        let connection = self.imis_connection(tenant).await?;
        let oidc = (connection.oidc.is_some() && !connection.oidc_sso_page.is_empty())
            .then_some(connection.oidc_sso_page);
        let saml = (connection.saml.is_some() && !connection.saml_sso_page.is_empty())
            .then_some(connection.saml_sso_page);
        let sso_page = match prefer {
            Some(ImisFlow::Saml) => saml.or(oidc),
            _ => oidc.or(saml),
        }
        .ok_or_else(|| {
            MembersError::NotConfigured(
                "no RiSE client application (client id, secret and SSO page) is complete in \
                 Settings"
                    .to_string(),
            )
        })?;
        let pending_token = random_token();
        self.store
            .insert_pending_sign_in(&PendingSignInRecord {
                token_hash: token_hash(&pending_token),
                tenant,
                return_to: safe_return_to(return_to),
                resume: resume.to_string(),
                application: application.to_string(),
                created_at: now,
                expires_at: now + self.policy.pending_timeout,
            })
            .await?;
        Ok(StartedSignIn {
            pending_token,
            sso_page,
        })
    }

    /// Completes an iMIS sign-in at the Login Redirect URL: exchanges the refresh token iMIS
    /// posted, reads the member's profile, and opens a session. Records the outcome for the
    /// tenant's admins either way.
    pub async fn complete_imis_sign_in(
        &self,
        tenant: TenantId,
        flow: ImisFlow,
        pending_token: Option<&str>,
        refresh_token: &str,
        now: Timestamp,
    ) -> Result<SignedIn, MembersError> {
        // Taken first and whatever happens next: a pending sign-in is good for one attempt.
        let pending = match pending_token {
            Some(token) => {
                self.store
                    .take_pending_sign_in(tenant, &token_hash(token), now)
                    .await?
            }
            None => None,
        };
        let outcome = self.exchange(tenant, flow, refresh_token).await;
        let source = IdentitySource::Imis;
        let application = pending
            .as_ref()
            .map_or(String::new(), |pending| pending.application.clone());
        match outcome {
            Ok(member) => {
                let session_token = self.open_session(tenant, &member, now).await?;
                self.record(tenant, source, &member.username, &application, Ok(()), now)
                    .await;
                Ok(SignedIn {
                    session_token,
                    member,
                    return_to: pending.as_ref().map(|p| p.return_to.clone()),
                    resume: pending.map(|p| p.resume).filter(|r| !r.is_empty()),
                })
            }
            Err(error) => {
                self.record(tenant, source, "", &application, Err(&error), now)
                    .await;
                tracing::info!(tenant = tenant.0, %error, "iMIS sign-in failed");
                Err(error)
            }
        }
    }

    async fn exchange(
        &self,
        tenant: TenantId,
        flow: ImisFlow,
        refresh_token: &str,
    ) -> Result<Member, MembersError> {
        if refresh_token.trim().is_empty() {
            return Err(MembersError::MissingRefreshToken);
        }
        let connection = self.imis_connection(tenant).await?;
        let (client, name) = match flow {
            ImisFlow::OpenIdConnect => (connection.oidc.as_ref(), "OpenID Connect"),
            ImisFlow::Saml => (connection.saml.as_ref(), "SAML"),
        };
        let client = client.ok_or_else(|| {
            MembersError::NotConfigured(format!(
                "the {name} client id or secret is missing in Settings"
            ))
        })?;
        let imis = &connection.imis;
        let member_token = imis
            .refresh_token_grant(client, refresh_token.trim())
            .await
            .map_err(MembersError::from_imis)?;
        let username = member_token.user_name.clone().ok_or_else(|| {
            MembersError::ProfileUnavailable(ImisError::Unexpected {
                url: format!("{}/token", imis.base_url()),
                status: 200,
                detail: "the token answer does not name the user (userName)".to_string(),
            })
        })?;
        self.read_profile(&connection, Some(member_token), &username)
            .await
    }

    /// The member with this username as the identity source describes them now, without
    /// signing them in: the dashboard's preview of what an application would receive. iMIS
    /// is read with the background account, which must be set up for this.
    pub async fn find_member(
        &self,
        tenant: TenantId,
        username: &str,
    ) -> Result<Member, MembersError> {
        match self.identity_source(tenant).await? {
            IdentitySource::Directory => self
                .store
                .directory_member_by_username(tenant, &directory::normalise_username(username))
                .await?
                .map(|record| Member::from_directory(&record))
                .ok_or(MembersError::NotFound),
            IdentitySource::Imis => {
                let connection = self.imis_connection(tenant).await?;
                self.read_profile(&connection, None, username.trim()).await
            }
        }
    }

    /// The member's profile from the profile IQA. The background account reads it when one is
    /// set up (it can see fields a member cannot); otherwise the member's own token reads their
    /// own row.
    async fn read_profile(
        &self,
        connection: &ImisConnection,
        member_token: Option<AccessToken>,
        username: &str,
    ) -> Result<Member, MembersError> {
        if connection.profile_iqa.is_empty() {
            return Err(MembersError::NotConfigured(
                "no profile IQA is saved in Settings".to_string(),
            ));
        }
        let imis = &connection.imis;
        let reader = if connection.api_username.is_empty() {
            member_token.ok_or_else(|| {
                MembersError::NotConfigured(
                    "reading a member's profile without their sign-in needs the background \
                     account in Settings"
                        .to_string(),
                )
            })?
        } else {
            imis.password_grant(&connection.api_username, &connection.api_password)
                .await
                .map_err(|error| match error {
                    ImisError::InvalidGrant(_) => MembersError::NotConfigured(format!(
                        "the background account in Settings cannot sign in to iMIS: {error}"
                    )),
                    error => MembersError::from_imis(error),
                })?
        };
        let profile = imis
            .profile(&reader, &connection.profile_iqa, username)
            .await
            .map_err(|error| match error {
                error if error.is_transient() => MembersError::ImisUnavailable(error),
                error => MembersError::ProfileUnavailable(error),
            })?;
        Member::from_imis(username, profile).ok_or_else(|| {
            MembersError::ProfileUnavailable(ImisError::Unexpected {
                url: format!("{}/api/IQA", imis.base_url()),
                status: 200,
                detail: format!(
                    "the profile IQA {} has no ID column for {username}",
                    connection.profile_iqa
                ),
            })
        })
    }

    // --- the member directory --------------------------------------------------------------------

    /// Signs a member in with the directory's username and password (the hosted sign-in
    /// form; iMIS members sign in on iMIS's own page instead).
    pub async fn sign_in_with_password(
        &self,
        tenant: TenantId,
        username: &str,
        password: &str,
        sign_in: SignInAttempt<'_>,
        now: Timestamp,
    ) -> Result<SignedIn, MembersError> {
        if self.identity_source(tenant).await? != IdentitySource::Directory {
            return Err(MembersError::NotConfigured(
                "members sign in with iMIS, not the member directory".to_string(),
            ));
        }
        let member = self
            .verify_password(tenant, username, password, sign_in, now)
            .await?;
        let session_token = self.open_session(tenant, &member, now).await?;
        Ok(SignedIn {
            session_token,
            member,
            return_to: None,
            resume: None,
        })
    }

    /// Checks a username and password with the tenant's identity source, without opening a
    /// session: the OAuth password grant (ROPC) for applications that enable it. For iMIS the
    /// password goes to iMIS's `/token` (password grant), as the member types it at iMIS.
    /// Failures count toward the same per-username and per-address limits as sign-in.
    pub async fn verify_password(
        &self,
        tenant: TenantId,
        username: &str,
        password: &str,
        sign_in: SignInAttempt<'_>,
        now: Timestamp,
    ) -> Result<Member, MembersError> {
        let source = self.identity_source(tenant).await?;
        let username = directory::normalise_username(username);
        // Both buckets belong to the tenant: another tenant's members (or one address's
        // guesses at another tenant) never lock this tenant out.
        let member_key = format!("member:{}:{username}", tenant.0);
        let address_key = format!("member-address:{}:{}", tenant.0, sign_in.client);
        let limits = PasswordLimits {
            account: (&member_key, self.policy.failures_per_member),
            address: (&address_key, self.policy.failures_per_address),
            window: self.policy.failure_window,
        };
        let attempt = match self.store.begin_password_check(&limits, now).await? {
            Ok(attempt) => attempt,
            Err(retry_after) => return Err(MembersError::TooManyAttempts { retry_after }),
        };
        let verified = match source {
            IdentitySource::Directory => self.directory_password(tenant, &username, password).await,
            IdentitySource::Imis => self.imis_password(tenant, &username, password).await,
        };
        let outcome = match &verified {
            Ok(_) => PasswordOutcome::Right,
            Err(MembersError::BadCredentials) => PasswordOutcome::Wrong,
            Err(_) => PasswordOutcome::Unjudged,
        };
        self.store
            .finish_password_check(attempt, &limits, outcome, now)
            .await?;
        match verified {
            Ok(member) => {
                self.record(tenant, source, &username, sign_in.application, Ok(()), now)
                    .await;
                Ok(member)
            }
            Err(error) => {
                self.record(
                    tenant,
                    source,
                    &username,
                    sign_in.application,
                    Err(&error),
                    now,
                )
                .await;
                Err(error)
            }
        }
    }

    async fn directory_password(
        &self,
        tenant: TenantId,
        username: &str,
        password: &str,
    ) -> Result<Member, MembersError> {
        let record = self
            .store
            .directory_member_by_username(tenant, username)
            .await?;
        let verified = self
            .hasher
            .verify(password, record.as_ref().map(|r| r.password_hash.as_str()))
            .await?;
        match record {
            Some(record) if verified => Ok(Member::from_directory(&record)),
            _ => Err(MembersError::BadCredentials),
        }
    }

    async fn imis_password(
        &self,
        tenant: TenantId,
        username: &str,
        password: &str,
    ) -> Result<Member, MembersError> {
        let connection = self.imis_connection(tenant).await?;
        let member_token = connection
            .imis
            .password_grant(username, password)
            .await
            .map_err(|error| match error {
                ImisError::InvalidGrant(_) => MembersError::BadCredentials,
                error => MembersError::from_imis(error),
            })?;
        // iMIS names the account in its own spelling when it says; otherwise as typed.
        let username = member_token
            .user_name
            .clone()
            .unwrap_or_else(|| username.to_string());
        self.read_profile(&connection, Some(member_token), &username)
            .await
    }

    // --- sessions --------------------------------------------------------------------------------

    async fn open_session(
        &self,
        tenant: TenantId,
        member: &Member,
        now: Timestamp,
    ) -> Result<String, MembersError> {
        let session_token = random_token();
        let profile = serde_json::to_string(member)
            .map_err(|e| StorageError::Corrupt(format!("member profile: {e}")))?;
        self.store
            .insert_member_session(&MemberSessionRecord {
                token_hash: token_hash(&session_token),
                tenant,
                subject: member.subject.clone(),
                member: profile,
                created_at: now,
                last_seen_at: now,
                expires_at: self.policy.sessions.expires_at(now),
            })
            .await?;
        Ok(session_token)
    }

    /// The member signed in on this tenant's domain with this cookie. Sessions past either
    /// timeout are ended here; another tenant's cookie finds nothing.
    pub async fn session(
        &self,
        tenant: TenantId,
        session_token: &str,
        now: Timestamp,
    ) -> Result<Option<MemberSession>, MembersError> {
        let hash = token_hash(session_token);
        let Some(record) = self.store.member_session(tenant, &hash).await? else {
            return Ok(None);
        };
        let check = self
            .policy
            .sessions
            .check(record.last_seen_at, record.expires_at, now);
        let SessionCheck::Live { touch } = check else {
            self.store.delete_member_session(&hash).await?;
            return Ok(None);
        };
        if touch {
            self.store.touch_member_session(&hash, now).await?;
        }
        let member: Member = serde_json::from_str(&record.member)
            .map_err(|e| StorageError::Corrupt(format!("member session: {e}")))?;
        Ok(Some(MemberSession {
            member,
            created_at: record.created_at,
            expires_at: record.expires_at,
        }))
    }

    pub async fn sign_out(&self, session_token: &str) -> Result<(), MembersError> {
        self.store
            .delete_member_session(&token_hash(session_token))
            .await?;
        Ok(())
    }

    /// Deletes sessions past their timeouts; run now and then by the server.
    pub async fn delete_stale_sessions(&self, now: Timestamp) -> Result<u64, MembersError> {
        Ok(self
            .store
            .delete_stale_member_sessions(now, self.policy.sessions.idle_since(now))
            .await?)
    }

    // --- what admins see -------------------------------------------------------------------------

    /// The tenant's newest member sign-ins, or those whose member or application contains
    /// `search`.
    pub async fn sign_in_events(
        &self,
        tenant: TenantId,
        search: Option<&str>,
        limit: i64,
    ) -> Result<Vec<SignInEvent>, MembersError> {
        let search = search.map(str::trim).filter(|search| !search.is_empty());
        Ok(self.store.sign_in_events(tenant, search, limit).await?)
    }

    /// Events are for admins' eyes; failing to write one must not fail the member's sign-in.
    async fn record(
        &self,
        tenant: TenantId,
        source: IdentitySource,
        member: &str,
        application: &str,
        result: Result<(), &MembersError>,
        now: Timestamp,
    ) {
        let (outcome, detail) = match result {
            Ok(()) => (SignInOutcome::SignedIn, String::new()),
            Err(error) => (error.outcome(), error.to_string()),
        };
        let for_admins = outcome.is_for_admins();
        let outcome = outcome.as_str();
        let event = SignInEventRecord {
            at: now,
            source: source.as_str().to_string(),
            member: member.to_string(),
            application: application.to_string(),
            outcome: outcome.to_string(),
            detail: detail.clone(),
        };
        if let Some(observer) = self.observer.get() {
            observer(source.as_str(), outcome);
        }
        if let Err(error) = self.store.record_sign_in_event(tenant, &event).await {
            tracing::warn!(%error, "recording a sign-in event failed");
        }
        // After the event is stored, so whoever hears this counts it among the recent ones.
        if for_admins && source == IdentitySource::Imis {
            if let Some(observer) = self.trouble_observer.get() {
                observer(ImisTrouble {
                    tenant,
                    outcome,
                    detail,
                    at: now,
                });
            }
        }
    }
}

/// A path on the tenant's own domain, or `/`: never another site (`//evil.example`,
/// `/\evil.example`, `https://…`), so the sign-in cannot be used as an open redirect.
pub fn safe_return_to(requested: &str) -> String {
    let ok = requested.starts_with('/')
        && !requested.starts_with("//")
        && !requested.starts_with("/\\")
        && !requested.chars().any(|c| c.is_control() || c == '\\')
        && requested.len() <= 2000;
    if ok {
        requested.to_string()
    } else {
        "/".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_to_stays_on_the_tenant_domain() {
        assert_eq!(safe_return_to("/account?tab=1"), "/account?tab=1");
        for hostile in [
            "//evil.example/x",
            "/\\evil.example",
            "https://evil.example",
            "javascript:alert(1)",
            "",
            "/a\nb",
        ] {
            assert_eq!(safe_return_to(hostile), "/", "{hostile}");
        }
    }
}

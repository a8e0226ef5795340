use subtle::ConstantTimeEq;
use vestibule_domain::{
    CloudId, Email, InvalidInput, Role, Seconds, SessionCheck, SessionLifetime, StaffId,
    StaffMember, Tenant, TenantAccess, Timestamp,
};
use vestibule_storage::{
    NewStaff, PasswordLimits, PasswordOutcome, SessionRecord, SetupTokenRecord, Store, TeamChange,
};

use vestibule_secrets::SecretKey;

use crate::passkey::PasskeyRelyingParty;
use crate::password::PasswordHasher;
use crate::token::{random_token, token_hash};
use crate::StaffError;

/// Session lifetimes, setup-link lifetime and sign-in rate limits.
#[derive(Debug, Clone)]
pub struct Policy {
    pub sessions: SessionLifetime,
    pub setup_link_lifetime: Seconds,
    /// How long a "forgot password" link works: short, since it arrives unasked for.
    pub reset_link_lifetime: Seconds,
    /// Failed attempts allowed per e-mail address within `failure_window`.
    pub failures_per_account: i64,
    /// Failed attempts allowed per client address within `failure_window`.
    pub failures_per_address: i64,
    pub failure_window: Seconds,
    /// Every staff member must use a second factor (the operators' rule for the installation).
    pub require_second_factor: bool,
    /// "Forgot password" requests allowed per client address within `failure_window`.
    pub reset_requests_per_address: i64,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            sessions: SessionLifetime {
                idle_timeout: Seconds::minutes(30),
                absolute_timeout: Seconds::hours(12),
            },
            setup_link_lifetime: Seconds::hours(72),
            reset_link_lifetime: Seconds::hours(1),
            failures_per_account: 5,
            failures_per_address: 30,
            failure_window: Seconds::minutes(15),
            require_second_factor: false,
            reset_requests_per_address: 10,
        }
    }
}

/// A successful sign-in: `session_token` goes into the cookie and nowhere else.
#[derive(Debug)]
pub struct SignedIn {
    pub staff: StaffMember,
    pub session_token: String,
}

/// The staff member behind a valid session cookie.
#[derive(Debug, Clone)]
pub struct CurrentStaff {
    pub staff: StaffMember,
    /// Synchroniser token that every state-changing dashboard request must echo.
    pub csrf_token: String,
    /// A second factor is required of them and not set up yet: until it is, they may only set
    /// one up (and sign out).
    pub must_add_second_factor: bool,
}

impl CurrentStaff {
    /// Constant-time comparison of a submitted CSRF token with the session's.
    pub fn check_csrf(&self, submitted: &str) -> Result<(), StaffError> {
        let matches: bool = self
            .csrf_token
            .as_bytes()
            .ct_eq(submitted.as_bytes())
            .into();
        if matches {
            Ok(())
        } else {
            Err(StaffError::CsrfMismatch)
        }
    }

    /// Refuses everything but setting up a second factor to someone who must add one first.
    pub fn require_second_factor_in_place(&self) -> Result<(), StaffError> {
        if self.must_add_second_factor {
            Err(StaffError::SecondFactorSetupNeeded)
        } else {
            Ok(())
        }
    }

    pub fn require_operator(&self) -> Result<(), StaffError> {
        if self.staff.role.is_operator() {
            Ok(())
        } else {
            Err(StaffError::Forbidden)
        }
    }
}

/// Who a setup link is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetupLink {
    /// The first operator of a new installation: they choose their e-mail address too.
    FirstOperator,
    /// An invited staff member, whose e-mail address is fixed.
    Invitation { email: Email },
    /// Someone who has a password and asked for a new one.
    PasswordReset { email: Email },
}

/// How many tenants a page of the tenant list shows.
pub const TENANTS_PER_PAGE: i64 = 50;

/// A page of tenants, and how many there are in all.
#[derive(Debug, Clone)]
pub struct TenantPage {
    pub tenants: Vec<Tenant>,
    pub total: i64,
    /// Counting from 1.
    pub page: u32,
}

impl TenantPage {
    /// How many pages the whole list takes (at least one, even when empty).
    pub fn pages(&self) -> u32 {
        let pages = (self.total + TENANTS_PER_PAGE - 1) / TENANTS_PER_PAGE;
        u32::try_from(pages.max(1)).unwrap_or(u32::MAX)
    }
}

/// The dashboard's account engine.
#[derive(Clone)]
pub struct StaffAccounts {
    store: Store,
    hasher: PasswordHasher,
    policy: Policy,
    /// Seals authenticator apps' secrets and passkey ceremonies; without it, second factors
    /// cannot be set up.
    key: Option<SecretKey>,
    /// Without one (a dashboard on an IP address), passkeys cannot be added.
    passkeys: Option<PasskeyRelyingParty>,
}

impl StaffAccounts {
    pub fn new(store: Store, hasher: PasswordHasher, policy: Policy) -> Self {
        Self {
            store,
            hasher,
            policy,
            key: None,
            passkeys: None,
        }
    }

    /// With the key that seals authenticator apps' secrets.
    pub fn with_secret_key(mut self, key: SecretKey) -> Self {
        self.key = Some(key);
        self
    }

    pub(crate) fn secret_key(&self) -> Option<&SecretKey> {
        self.key.as_ref()
    }

    /// With passkeys, for a dashboard at `public_url`; without them when browsers would refuse
    /// that address (see [`PasskeyRelyingParty::for_dashboard`]).
    pub fn with_passkeys(mut self, public_url: &str) -> Self {
        self.passkeys = PasskeyRelyingParty::for_dashboard(public_url);
        if self.passkeys.is_none() {
            tracing::warn!(
                public_url,
                "passkeys are off: the dashboard needs a host name on https (or localhost)"
            );
        }
        self
    }

    pub(crate) fn passkey_relying_party(&self) -> Option<&PasskeyRelyingParty> {
        self.passkeys.as_ref()
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    // --- sign-in and sessions ------------------------------------------------------------------

    /// Signs a staff member in and starts a new session.
    ///
    /// `client` identifies the caller's network address for rate limiting. `previous_session` is
    /// the cookie the browser already had, if any: it is ended so that a session id is never
    /// carried across a sign-in (session fixation).
    pub async fn sign_in(
        &self,
        email: &str,
        password: &str,
        client: &str,
        previous_session: Option<&str>,
        now: Timestamp,
    ) -> Result<SignedIn, StaffError> {
        // Rate-limit on the address as typed (normalised when possible), whether or not such an
        // account exists, so the limit itself reveals nothing.
        let account_key = format!(
            "account:{}",
            Email::parse(email).map_or_else(|_| email.trim().to_lowercase(), |e| e.to_string())
        );
        let address_key = format!("address:{client}");
        let limits = PasswordLimits {
            account: (&account_key, self.policy.failures_per_account),
            address: (&address_key, self.policy.failures_per_address),
            window: self.policy.failure_window,
        };
        let attempt = match self.store.begin_password_check(&limits, now).await? {
            Ok(attempt) => attempt,
            Err(retry_after) => return Err(StaffError::TooManyAttempts { retry_after }),
        };

        let credentials = match Email::parse(email) {
            Ok(email) => self.store.staff_credentials(&email).await?,
            Err(_) => None,
        };
        let stored_hash = credentials
            .as_ref()
            .and_then(|c| c.password_hash.as_deref());
        let verified = match self.hasher.verify(password, stored_hash).await {
            Ok(verified) => verified,
            Err(error) => {
                self.store
                    .finish_password_check(attempt, &limits, PasswordOutcome::Unjudged, now)
                    .await?;
                return Err(error);
            }
        };

        let staff = match credentials {
            Some(credentials) if verified => credentials.staff,
            _ => {
                self.store
                    .finish_password_check(attempt, &limits, PasswordOutcome::Wrong, now)
                    .await?;
                tracing::info!(client, "staff sign-in failed");
                return Err(StaffError::BadCredentials);
            }
        };
        self.store
            .finish_password_check(attempt, &limits, PasswordOutcome::Right, now)
            .await?;
        if self.second_factor_state(&staff).await?.enrolled() {
            let challenge = self.second_factor_challenge(staff.id, now).await?;
            return Err(StaffError::SecondFactorNeeded { challenge });
        }
        self.start_session(staff, previous_session, now).await
    }

    /// Checks the signed-in caller's password again before a change a stolen session must not
    /// make alone; wrong passwords count against the account like wrong sign-ins.
    pub(crate) async fn confirm_password(
        &self,
        caller: &CurrentStaff,
        password: &str,
        now: Timestamp,
    ) -> Result<(), StaffError> {
        // The account's bucket is sign-in's, so guesses here and there add up; the session
        // stands in for the address, which this call does not know.
        let account_key = format!("account:{}", caller.staff.email);
        let session_key = format!("reauth:{}", caller.staff.id.0);
        let limits = PasswordLimits {
            account: (&account_key, self.policy.failures_per_account),
            address: (&session_key, self.policy.failures_per_address),
            window: self.policy.failure_window,
        };
        let attempt = match self.store.begin_password_check(&limits, now).await? {
            Ok(attempt) => attempt,
            Err(retry_after) => return Err(StaffError::TooManyAttempts { retry_after }),
        };
        let credentials = self.store.staff_credentials(&caller.staff.email).await?;
        let stored_hash = credentials
            .as_ref()
            .and_then(|c| c.password_hash.as_deref());
        let verified = self.hasher.verify(password, stored_hash).await;
        let outcome = match verified {
            Ok(true) => PasswordOutcome::Right,
            Ok(false) => PasswordOutcome::Wrong,
            Err(_) => PasswordOutcome::Unjudged,
        };
        self.store
            .finish_password_check(attempt, &limits, outcome, now)
            .await?;
        if verified? {
            Ok(())
        } else {
            Err(StaffError::WrongPassword)
        }
    }

    /// A new session for `staff`, ending the one this browser had.
    pub(crate) async fn start_session(
        &self,
        staff: StaffMember,
        previous_session: Option<&str>,
        now: Timestamp,
    ) -> Result<SignedIn, StaffError> {
        if let Some(previous) = previous_session {
            self.store.delete_session(&token_hash(previous)).await?;
        }
        let session_token = random_token();
        self.store
            .insert_session(&SessionRecord {
                token_hash: token_hash(&session_token),
                staff_id: staff.id,
                csrf_token: random_token(),
                created_at: now,
                last_seen_at: now,
                expires_at: self.policy.sessions.expires_at(now),
            })
            .await?;
        tracing::info!(staff = %staff.email, "staff signed in");
        Ok(SignedIn {
            staff,
            session_token,
        })
    }

    /// Resolves a session cookie. Expired or idle sessions are deleted and give `None`.
    pub async fn authenticate(
        &self,
        session_token: &str,
        now: Timestamp,
    ) -> Result<Option<CurrentStaff>, StaffError> {
        let hash = token_hash(session_token);
        let Some(session) = self.store.session(&hash).await? else {
            return Ok(None);
        };
        let check = self
            .policy
            .sessions
            .check(session.last_seen_at, session.expires_at, now);
        let SessionCheck::Live { touch } = check else {
            self.store.delete_session(&hash).await?;
            return Ok(None);
        };
        let Some(staff) = self.store.staff_by_id(session.staff_id).await? else {
            self.store.delete_session(&hash).await?;
            return Ok(None);
        };
        if touch {
            self.store.touch_session(&hash, now).await?;
        }
        let second_factor = self.second_factor_state(&staff).await?;
        Ok(Some(CurrentStaff {
            must_add_second_factor: self.required(second_factor) && !second_factor.enrolled(),
            staff,
            csrf_token: session.csrf_token,
        }))
    }

    pub async fn sign_out(&self, session_token: &str) -> Result<(), StaffError> {
        self.store
            .delete_session(&token_hash(session_token))
            .await?;
        Ok(())
    }

    /// Removes expired and idle sessions; run periodically.
    pub async fn sweep_sessions(&self, now: Timestamp) -> Result<u64, StaffError> {
        Ok(self
            .store
            .delete_stale_sessions(now, self.policy.sessions.idle_since(now))
            .await?)
    }

    // --- setup links ---------------------------------------------------------------------------

    /// When nobody can sign in yet, makes a fresh first-operator setup link (invalidating older
    /// ones) and returns its token. Returns `None` once any staff member exists.
    pub async fn first_operator_link(&self, now: Timestamp) -> Result<Option<String>, StaffError> {
        if self.store.staff_count().await? > 0 {
            return Ok(None);
        }
        self.store.delete_bootstrap_tokens().await?;
        let token = random_token();
        self.store
            .insert_setup_token(&SetupTokenRecord {
                token_hash: token_hash(&token),
                staff_id: None,
                created_at: now,
                expires_at: now + self.policy.setup_link_lifetime,
            })
            .await?;
        Ok(Some(token))
    }

    /// Says who a setup link is for, without using it up.
    pub async fn setup_link(&self, token: &str, now: Timestamp) -> Result<SetupLink, StaffError> {
        let record = self
            .store
            .setup_token(&token_hash(token), now)
            .await?
            .ok_or(StaffError::SetupLinkInvalid)?;
        match record.staff_id {
            None => Ok(SetupLink::FirstOperator),
            Some(id) => {
                let staff = self
                    .store
                    .staff_by_id(id)
                    .await?
                    .ok_or(StaffError::SetupLinkInvalid)?;
                Ok(if staff.has_password {
                    SetupLink::PasswordReset { email: staff.email }
                } else {
                    SetupLink::Invitation { email: staff.email }
                })
            }
        }
    }

    /// Uses a setup link: sets the password (and, for the first operator, creates the account).
    pub async fn complete_setup(
        &self,
        token: &str,
        email: Option<&str>,
        password: &str,
        now: Timestamp,
    ) -> Result<StaffMember, StaffError> {
        let link = self.setup_link(token, now).await?;
        let password_hash = self.hasher.hash(password).await?;
        let hash = token_hash(token);
        let completed = match link {
            SetupLink::FirstOperator => {
                let email = Email::parse(email.unwrap_or_default())?;
                self.store
                    .complete_bootstrap(&hash, &email, &password_hash, now)
                    .await?
            }
            SetupLink::Invitation { .. } | SetupLink::PasswordReset { .. } => {
                self.store
                    .complete_invitation(&hash, &password_hash, now)
                    .await?
            }
        };
        completed.ok_or(StaffError::SetupLinkInvalid)
    }

    /// "Forgot password", first half: the staff member with this address, `None` when nobody
    /// has it. The caller answers the same either way, and makes a link with
    /// [`StaffAccounts::password_reset_link`] only when it can mail it at once, since a new link
    /// replaces the one sent before.
    pub async fn password_reset_account(
        &self,
        email: &str,
    ) -> Result<Option<StaffMember>, StaffError> {
        let Ok(email) = Email::parse(email) else {
            return Ok(None);
        };
        Ok(self
            .store
            .staff_credentials(&email)
            .await?
            .map(|credentials| credentials.staff))
    }

    /// "Forgot password", first half: takes one of the client address's
    /// [`Policy::reset_requests_per_address`] requests this window, or answers how long to
    /// wait: one address cannot make the server write to every staff member's mailbox.
    pub async fn take_reset_request(
        &self,
        client: &str,
        now: Timestamp,
    ) -> Result<Result<(), Seconds>, StaffError> {
        let bucket = format!("reset-address:{client}");
        let (limit, window) = (
            self.policy.reset_requests_per_address,
            self.policy.failure_window,
        );
        let taken = self.store.take_place(&bucket, limit, window, now).await?;
        Ok(taken.map(|_| ()))
    }

    /// "Forgot password", second half: a link that lets `staff` choose a new password, for
    /// [`Policy::reset_link_lifetime`], replacing links sent before.
    pub async fn password_reset_link(
        &self,
        staff: &StaffMember,
        now: Timestamp,
    ) -> Result<String, StaffError> {
        let token = self
            .replace_setup_link(staff.id, now, self.policy.reset_link_lifetime)
            .await?;
        tracing::info!(staff = %staff.email, "password reset link made");
        Ok(token)
    }

    /// Creates a staff member without a password and returns their one-time setup token.
    pub async fn invite(
        &self,
        email: &str,
        role: Role,
        now: Timestamp,
    ) -> Result<(StaffMember, String), StaffError> {
        let staff = self
            .store
            .create_staff(
                &NewStaff {
                    email: Email::parse(email)?,
                    role,
                    password_hash: None,
                },
                now,
            )
            .await?;
        let token = self.new_setup_link(staff.id, now).await?;
        Ok((staff, token))
    }

    /// Creates a staff member with a password chosen by an operator at the command line.
    pub async fn add_with_password(
        &self,
        email: &str,
        role: Role,
        password: &str,
        now: Timestamp,
    ) -> Result<StaffMember, StaffError> {
        let email = Email::parse(email)?;
        let password_hash = self.hasher.hash(password).await?;
        Ok(self
            .store
            .create_staff(
                &NewStaff {
                    email,
                    role,
                    password_hash: Some(password_hash),
                },
                now,
            )
            .await?)
    }

    // --- tenants -------------------------------------------------------------------------------

    /// Creates a tenant; operators only.
    pub async fn create_tenant(
        &self,
        caller: &CurrentStaff,
        cloud_id: &str,
        display_name: &str,
        now: Timestamp,
    ) -> Result<Tenant, StaffError> {
        caller.require_operator()?;
        let cloud_id = CloudId::parse(cloud_id)?;
        let display_name = Tenant::parse_display_name(display_name)?;
        Ok(self
            .store
            .create_tenant(&cloud_id, &display_name, now)
            .await?)
    }

    /// How far a tenant has come in setting up (domain, iMIS, apps, a member's sign-in): the
    /// getting-started checklist and the operators' list read it, for a tenant they got from
    /// [`Self::tenant_to_read`] or [`Self::visible_tenants`].
    pub async fn progress(
        &self,
        tenant: &Tenant,
    ) -> Result<vestibule_storage::TenantProgressRecord, StaffError> {
        Ok(self.store.tenant_progress(tenant.id).await?)
    }

    /// One page of the tenants a caller may see: those whose Cloud ID or name contains
    /// `search` for operators, [`TENANTS_PER_PAGE`] at a time (`page` counts from 1); their own
    /// for tenant admins.
    pub async fn visible_tenants(
        &self,
        caller: &CurrentStaff,
        search: &str,
        page: u32,
    ) -> Result<TenantPage, StaffError> {
        let page = page.max(1);
        let (tenants, total) = match &caller.staff.role {
            Role::Operator => {
                let offset = i64::from(page - 1) * TENANTS_PER_PAGE;
                self.store
                    .search_tenants(search, offset, TENANTS_PER_PAGE)
                    .await?
            }
            Role::TenantAdmin(_) | Role::TenantViewer(_) => {
                let own: Vec<Tenant> = match &caller.staff.cloud_id {
                    Some(own) => self
                        .store
                        .tenant_by_cloud_id(own)
                        .await?
                        .into_iter()
                        .collect(),
                    None => Vec::new(),
                };
                let total = own.len() as i64;
                (own, total)
            }
        };
        Ok(TenantPage {
            tenants,
            total,
            page,
        })
    }

    /// One of the two gates to tenant data (with [`Self::tenant_to_change`]): resolves a Cloud
    /// ID from a request and checks the caller may see it. A Cloud ID's team gets `Forbidden`
    /// for any Cloud ID but their own, whether or not it exists, so ids cannot be probed.
    pub async fn tenant_to_read(
        &self,
        caller: &CurrentStaff,
        cloud_id: &str,
    ) -> Result<Tenant, StaffError> {
        let cloud_id = CloudId::parse(cloud_id).map_err(|_| StaffError::NotFound)?;
        if !caller.staff.role.is_operator() && caller.staff.cloud_id.as_ref() != Some(&cloud_id) {
            return Err(StaffError::Forbidden);
        }
        let tenant = self
            .store
            .tenant_by_cloud_id(&cloud_id)
            .await?
            .ok_or(StaffError::NotFound)?;
        if !caller.staff.role.can_access(tenant.id) {
            return Err(StaffError::Forbidden);
        }
        Ok(tenant)
    }

    /// The gate to changing tenant data: [`Self::tenant_to_read`], and the caller may change
    /// it (read-only team members get [`StaffError::ReadOnly`]).
    pub async fn tenant_to_change(
        &self,
        caller: &CurrentStaff,
        cloud_id: &str,
    ) -> Result<Tenant, StaffError> {
        let tenant = self.tenant_to_read(caller, cloud_id).await?;
        if !caller.staff.role.can_change(tenant.id) {
            return Err(StaffError::ReadOnly);
        }
        Ok(tenant)
    }

    pub async fn rename_tenant(
        &self,
        caller: &CurrentStaff,
        cloud_id: &str,
        display_name: &str,
    ) -> Result<Tenant, StaffError> {
        let tenant = self.tenant_to_change(caller, cloud_id).await?;
        let display_name = Tenant::parse_display_name(display_name)?;
        self.store.rename_tenant(tenant.id, &display_name).await?;
        Ok(Tenant {
            display_name,
            ..tenant
        })
    }

    pub async fn tenant_team(
        &self,
        caller: &CurrentStaff,
        cloud_id: &str,
    ) -> Result<(Tenant, Vec<StaffMember>), StaffError> {
        let tenant = self.tenant_to_read(caller, cloud_id).await?;
        let team = self.store.list_tenant_staff(tenant.id).await?;
        Ok((tenant, team))
    }

    /// Invites someone to the team of a tenant the caller may change, as an admin or read-only.
    /// Inviting someone whose invitation is still pending sends them a new link instead (the
    /// old one stops working; the access chosen now applies); someone already on the team is
    /// told so.
    pub async fn invite_to_team(
        &self,
        caller: &CurrentStaff,
        cloud_id: &str,
        email: &str,
        access: TenantAccess,
        now: Timestamp,
    ) -> Result<Invited, StaffError> {
        let tenant = self.tenant_to_change(caller, cloud_id).await?;
        let address = Email::parse(email)?;
        match self.find_team_member(&tenant, &address).await? {
            Some(staff) if staff.has_password => Err(InvalidInput::new(
                "email",
                format!("{address} is already on this team."),
            )
            .into()),
            Some(staff) => {
                let staff = if staff.role.tenant_access() == Some(access) {
                    staff
                } else {
                    self.set_access(&tenant, staff, access, caller).await?
                };
                let token = self.new_setup_link(staff.id, now).await?;
                Ok(Invited {
                    staff,
                    token,
                    resent: true,
                })
            }
            None => {
                let (staff, token) = self.invite(email, access.role(tenant.id), now).await?;
                Ok(Invited {
                    staff,
                    token,
                    resent: false,
                })
            }
        }
    }

    /// A new setup link for a team member who has not chosen a password yet; the links sent
    /// before stop working.
    pub async fn resend_invitation(
        &self,
        caller: &CurrentStaff,
        cloud_id: &str,
        email: &str,
        now: Timestamp,
    ) -> Result<Invited, StaffError> {
        let (_, staff) = self.team_member(caller, cloud_id, email).await?;
        if staff.has_password {
            return Err(InvalidInput::new(
                "email",
                format!(
                    "{} has already chosen a password: there is no invitation to resend.",
                    staff.email
                ),
            )
            .into());
        }
        let token = self.new_setup_link(staff.id, now).await?;
        Ok(Invited {
            staff,
            token,
            resent: true,
        })
    }

    /// Removes someone from a tenant's team: a pending invitation is revoked (its link stops
    /// working), an admin loses access at once (their sessions end). Nobody removes
    /// themselves, so a team cannot lock itself out by a slip.
    pub async fn remove_from_team(
        &self,
        caller: &CurrentStaff,
        cloud_id: &str,
        email: &str,
    ) -> Result<StaffMember, StaffError> {
        let (tenant, staff) = self.team_member(caller, cloud_id, email).await?;
        if staff.id == caller.staff.id {
            return Err(InvalidInput::new(
                "email",
                "You cannot remove yourself. Ask another admin of this Cloud ID or an operator.",
            )
            .into());
        }
        let by = caller.staff.id;
        if !self
            .store
            .change_team_member(tenant.id, staff.id, TeamChange::Remove, by)
            .await?
        {
            return Err(self.refused_team_change(staff.id).await?);
        }
        Ok(staff)
    }

    /// Changes what a member of the team may do in the Cloud ID: admin or read-only. Nobody
    /// changes their own access, so the admin making the change stays one; their change is
    /// refused if they stopped being an admin a moment ago. Returns the member as they were
    /// before and as they are now.
    pub async fn change_team_access(
        &self,
        caller: &CurrentStaff,
        cloud_id: &str,
        email: &str,
        access: TenantAccess,
    ) -> Result<(StaffMember, StaffMember), StaffError> {
        let (tenant, staff) = self.team_member(caller, cloud_id, email).await?;
        if staff.id == caller.staff.id {
            return Err(InvalidInput::new(
                "access",
                "You cannot change your own access. Ask another admin of this Cloud ID or an operator.",
            )
            .into());
        }
        let changed = self
            .set_access(&tenant, staff.clone(), access, caller)
            .await?;
        Ok((staff, changed))
    }

    async fn set_access(
        &self,
        tenant: &Tenant,
        staff: StaffMember,
        access: TenantAccess,
        caller: &CurrentStaff,
    ) -> Result<StaffMember, StaffError> {
        let by = caller.staff.id;
        if !self
            .store
            .change_team_member(tenant.id, staff.id, TeamChange::Access(access), by)
            .await?
        {
            return Err(self.refused_team_change(staff.id).await?);
        }
        Ok(StaffMember {
            role: access.role(tenant.id),
            ..staff
        })
    }

    /// Why a team change the store refused did not happen: the member left the team a moment
    /// ago, or else the caller stopped being an admin a moment ago.
    async fn refused_team_change(&self, staff: StaffId) -> Result<StaffError, StaffError> {
        Ok(match self.store.staff_by_id(staff).await? {
            None => StaffError::NotFound,
            Some(_) => StaffError::ReadOnly,
        })
    }

    /// A member of the team of a tenant the caller may change, by e-mail address.
    async fn team_member(
        &self,
        caller: &CurrentStaff,
        cloud_id: &str,
        email: &str,
    ) -> Result<(Tenant, StaffMember), StaffError> {
        let tenant = self.tenant_to_change(caller, cloud_id).await?;
        let address = Email::parse(email)?;
        let staff = self
            .find_team_member(&tenant, &address)
            .await?
            .ok_or(StaffError::NotFound)?;
        Ok((tenant, staff))
    }

    /// The member of `tenant`'s team with this address, if there is one.
    async fn find_team_member(
        &self,
        tenant: &Tenant,
        address: &Email,
    ) -> Result<Option<StaffMember>, StaffError> {
        Ok(self
            .store
            .list_tenant_staff(tenant.id)
            .await?
            .into_iter()
            .find(|staff| staff.email == *address))
    }

    /// A fresh one-time setup link for `staff`, replacing any sent before.
    async fn new_setup_link(&self, staff: StaffId, now: Timestamp) -> Result<String, StaffError> {
        self.replace_setup_link(staff, now, self.policy.setup_link_lifetime)
            .await
    }

    async fn replace_setup_link(
        &self,
        staff: StaffId,
        now: Timestamp,
        lifetime: Seconds,
    ) -> Result<String, StaffError> {
        let token = random_token();
        self.store
            .replace_setup_tokens(&SetupTokenRecord {
                token_hash: token_hash(&token),
                staff_id: Some(staff),
                created_at: now,
                expires_at: now + lifetime,
            })
            .await?;
        Ok(token)
    }
}

/// Someone invited to a team, and the one-time setup link to hand them.
#[derive(Debug)]
pub struct Invited {
    pub staff: StaffMember,
    pub token: String,
    /// Whether they had been invited before (this link replaces the earlier ones).
    pub resent: bool,
}

//! The provisioning engine: what the dashboard and the CLI call, and the background work that
//! provisions, renews and monitors domains.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;
use tokio::sync::Notify;
use vestibule_domain::{DomainState, ProvisioningPhase, Seconds, TenantId, Timestamp};
use vestibule_storage::{
    CertificateChanges, CertificateRecord, Conflict, DomainRecord, JobOutcome, StorageError, Store,
};

use crate::acme::{AcmeIssuer, AcmeSettings, OrderObserver};
use crate::certificates::{key_context, leaf_der, CertificateResolver};
use crate::dns::DnsChecker;
use vestibule_secrets::SecretKey;

use crate::{self_check, ProvisioningError, SsoDomain};

/// Everything the engine needs to know about this deployment.
#[derive(Debug, Clone)]
pub struct ProvisioningSettings {
    /// The edge's name. Each tenant points its CNAME record at its own name under it
    /// ([`Provisioning::cname_target`]), so DNS must answer for `*.<cname_target>` with the
    /// edge's addresses.
    pub cname_target: String,
    /// Names Vestibule serves itself; tenants may not claim them or their subdomains.
    pub own_domains: Vec<String>,
    /// DNS servers for the CNAME and CAA checks; empty means the system's.
    pub dns_servers: Vec<SocketAddr>,
    pub acme: AcmeSettings,
    /// CAA `issue` values that allow our CA (for Let's Encrypt, `letsencrypt.org`). Empty
    /// skips the CAA check.
    pub caa_identities: Vec<String>,
    /// Where this node's HTTPS edge listens, for the handshake check.
    pub edge_address: SocketAddr,
    /// The edge expects a PROXY protocol v2 header first: the handshake check sends a `LOCAL`
    /// one, as a load balancer's health check would.
    pub edge_proxy_protocol: bool,
    /// How long a node holds a job before another may take it over.
    pub lease: Seconds,
    /// Attempts before a provisioning job that cannot reach the CA gives up.
    pub max_attempts: i64,
    /// First retry delay; doubles with each attempt, up to six hours.
    pub retry_base: Seconds,
    /// How often provisioned domains are checked.
    pub check_interval: Seconds,
    /// How often certificates are reloaded from the database (to see other nodes' work).
    pub reload_interval: Seconds,
}

/// A tenant's domain as the Domain Setup page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainOverview {
    pub domain: SsoDomain,
    pub record: DomainRecord,
    pub certificate_expires: Option<Timestamp>,
}

#[derive(Clone)]
pub struct Provisioning {
    inner: Arc<Inner>,
}

/// A renewal that failed while the current certificate still serves: what warnings are made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenewalFailure {
    pub tenant: TenantId,
    pub domain: String,
    /// In words staff can act on.
    pub reason: String,
    /// When the certificate in use expires, when one is stored.
    pub expires_at: Option<Timestamp>,
    /// Failed renewals in a row.
    pub attempts: i64,
}

/// Hears every failed renewal, on the node that tried (see
/// [`Provisioning::warn_of_failed_renewals`]).
pub type RenewalWarner = Box<dyn Fn(RenewalFailure) + Send + Sync>;

struct Inner {
    /// Told of failed renewals; set once, by the server that sends the warnings.
    renewal_warner: std::sync::OnceLock<RenewalWarner>,
    settings: ProvisioningSettings,
    store: Store,
    secret: SecretKey,
    dns: DnsChecker,
    acme: AcmeIssuer,
    resolver: Arc<CertificateResolver>,
    /// Names this node's leases, so a restarted or second node can tell them apart.
    node: String,
    wake: Notify,
}

const MAX_RETRY_DELAY: Seconds = Seconds::hours(6);

impl Provisioning {
    pub fn new(
        settings: ProvisioningSettings,
        store: Store,
        secret: SecretKey,
    ) -> Result<Self, ProvisioningError> {
        let dns = DnsChecker::new(&settings.dns_servers)?;
        let acme = AcmeIssuer::new(settings.acme.clone(), store.clone(), secret.clone());
        let resolver = CertificateResolver::new(store.clone(), secret.clone());
        let node = format!("node-{:016x}", rand::thread_rng().gen::<u64>());
        Ok(Self {
            inner: Arc::new(Inner {
                renewal_warner: std::sync::OnceLock::new(),
                settings,
                store,
                secret,
                dns,
                acme,
                resolver,
                node,
                wake: Notify::new(),
            }),
        })
    }

    pub fn settings(&self) -> &ProvisioningSettings {
        &self.inner.settings
    }

    /// The name `tenant`'s CNAME record must point at: `<cloud-id>-<tag>.<edge name>`, where
    /// the tag comes from the tenant's row id, which is never reused. A name can only be
    /// claimed by the tenant its owner pointed it at, so a dangling record left after a
    /// release, or a record a squatter hoped for, is no use to any other Cloud ID, nor to a
    /// tenant created later with a released Cloud ID.
    pub async fn cname_target(&self, tenant: TenantId) -> Result<String, ProvisioningError> {
        let found = self
            .inner
            .store
            .tenant_by_id(tenant)
            .await?
            .ok_or(ProvisioningError::NoTenant)?;
        Ok(tenant_cname_target(
            tenant,
            found.cloud_id.as_str(),
            &self.inner.settings.cname_target,
        ))
    }

    /// Sets the one observer of certificate orders this node places; false when one was set.
    pub fn observe_orders(&self, observer: OrderObserver) -> bool {
        self.inner.acme.observe_orders(observer)
    }

    /// Sets the one listener told of each failed renewal (the server e-mails the tenant's
    /// admins); false when one was set before.
    pub fn warn_of_failed_renewals(&self, warner: RenewalWarner) -> bool {
        self.inner.renewal_warner.set(warner).is_ok()
    }

    /// The SNI certificate resolver the TLS edge serves from.
    pub fn resolver(&self) -> Arc<CertificateResolver> {
        self.inner.resolver.clone()
    }

    /// Claims `input` for `tenant` and queues provisioning. Returns at once; the background
    /// worker does the rest and the page follows its progress.
    pub async fn start(
        &self,
        tenant: TenantId,
        input: &str,
        now: Timestamp,
    ) -> Result<DomainOverview, ProvisioningError> {
        let domain = SsoDomain::parse(input, &self.inner.settings.own_domains)?;
        let record = self
            .inner
            .store
            .claim_domain(tenant, domain.as_str(), now)
            .await
            .map_err(|error| match error {
                StorageError::Conflict(Conflict::DomainName) => {
                    ProvisioningError::DomainTaken(domain.to_unicode())
                }
                other => other.into(),
            })?;
        tracing::info!(domain = %domain, tenant = tenant.0, "provisioning queued");
        self.inner.wake.notify_one();
        Ok(DomainOverview {
            domain,
            record,
            certificate_expires: None,
        })
    }

    /// Queues a failed domain again, with the same name: `name`, or the primary.
    pub async fn retry(
        &self,
        tenant: TenantId,
        name: Option<&str>,
        now: Timestamp,
    ) -> Result<DomainOverview, ProvisioningError> {
        let domains = self.inner.store.domains_for_tenant(tenant).await?;
        let record = match name {
            Some(name) => domains
                .into_iter()
                .find(|domain| domain.name == name)
                .ok_or(ProvisioningError::NoSuchDomain)?,
            None => domains
                .into_iter()
                .find(|domain| domain.is_primary)
                .ok_or(ProvisioningError::NoDomain)?,
        };
        if record.state != DomainState::Failed {
            return Err(ProvisioningError::NotFailed);
        }
        self.start(tenant, &record.name, now).await
    }

    /// The tenant's primary domain: what every dashboard page's links name, so only it is read.
    pub async fn overview(
        &self,
        tenant: TenantId,
    ) -> Result<Option<DomainOverview>, ProvisioningError> {
        match self.inner.store.domain_for_tenant(tenant).await? {
            Some(record) => Ok(Some(self.with_certificate(record).await?)),
            None => Ok(None),
        }
    }

    /// Every domain the tenant holds, the primary first.
    pub async fn domains(
        &self,
        tenant: TenantId,
    ) -> Result<Vec<DomainOverview>, ProvisioningError> {
        let mut domains = Vec::new();
        for record in self.inner.store.domains_for_tenant(tenant).await? {
            domains.push(self.with_certificate(record).await?);
        }
        Ok(domains)
    }

    /// The names of the tenant's domains, the primary first: what an app can be bound to (no
    /// certificate is read).
    pub async fn domain_names(
        &self,
        tenant: TenantId,
    ) -> Result<Vec<SsoDomain>, ProvisioningError> {
        let records = self.inner.store.domains_for_tenant(tenant).await?;
        Ok(records
            .into_iter()
            .map(|record| SsoDomain::from_stored(record.name))
            .collect())
    }

    async fn with_certificate(
        &self,
        record: DomainRecord,
    ) -> Result<DomainOverview, ProvisioningError> {
        let certificate_expires = self
            .inner
            .store
            .certificate_for_domain(record.id)
            .await?
            .map(|c| c.not_after);
        Ok(DomainOverview {
            domain: SsoDomain::from_stored(record.name.clone()),
            record,
            certificate_expires,
        })
    }

    /// Makes `name` the tenant's primary domain: the one its links name.
    pub async fn make_primary(
        &self,
        tenant: TenantId,
        name: &str,
    ) -> Result<(), ProvisioningError> {
        if self.inner.store.make_primary_domain(tenant, name).await? {
            Ok(())
        } else {
            Err(ProvisioningError::NoSuchDomain)
        }
    }

    /// Releases the tenant's domain `name` (or its primary, whose role passes to its oldest
    /// other domain): it stops being served at once, on this node and (through PostgreSQL's
    /// notifications, or their timed reload) on the others. Returns the name that was released.
    pub async fn release(
        &self,
        tenant: TenantId,
        name: Option<&str>,
    ) -> Result<SsoDomain, ProvisioningError> {
        let name =
            self.inner
                .store
                .release_domain(tenant, name)
                .await?
                .ok_or(if name.is_some() {
                    ProvisioningError::NoSuchDomain
                } else {
                    ProvisioningError::NoDomain
                })?;
        self.inner.resolver.reload().await?;
        tracing::info!(domain = %name, tenant = tenant.0, "domain released");
        Ok(SsoDomain::from_stored(name))
    }

    /// The answer to an HTTP-01 challenge, for the plain-HTTP listener.
    pub async fn challenge_answer(
        &self,
        token: &str,
        now: Timestamp,
    ) -> Result<Option<String>, ProvisioningError> {
        Ok(self.inner.store.challenge_answer(token, now).await?)
    }

    /// Runs every job that is due, one after the other, and returns how many ran.
    pub async fn run_due_jobs(&self) -> Result<usize, ProvisioningError> {
        let mut ran = 0;
        loop {
            let now = Timestamp::now();
            let lease_until = now + self.inner.settings.lease;
            let Some(record) = self
                .inner
                .store
                .lease_due_job(&self.inner.node, now, lease_until)
                .await?
            else {
                return Ok(ran);
            };
            self.run_job(record).await?;
            ran += 1;
        }
    }

    async fn run_job(&self, record: DomainRecord) -> Result<(), ProvisioningError> {
        let domain = SsoDomain::from_stored(record.name.clone());
        let renewing = record.state != DomainState::Provisioning;
        let work = async {
            if renewing {
                self.issue(&record, &domain).await
            } else {
                self.provision(&record, &domain).await
            }
        };
        // The job stops the moment this node can no longer be sure it holds the lease, so a
        // node that takes over never orders alongside it.
        let result = tokio::select! {
            result = work => result,
            lost = self.hold_lease(record.id) => Err(lost),
        };
        let now = Timestamp::now();
        let mut check = None;
        let outcome = match result {
            Ok(certificate) => {
                tracing::info!(domain = %domain, renewing, "certificate issued");
                let (state, message) = self.check(&record, &domain, now).await;
                check = Some((state, message));
                JobOutcome {
                    state,
                    phase: ProvisioningPhase::Online,
                    message: String::new(),
                    attempts: 0,
                    next_attempt_at: renewal_time(&certificate),
                }
            }
            Err(ProvisioningError::Cancelled) => {
                tracing::info!(domain = %domain, "job given up: its lease was lost or released");
                return Ok(());
            }
            Err(error) if renewing => {
                let attempts = record.attempts + 1;
                let expires = self
                    .inner
                    .store
                    .certificate_for_domain(record.id)
                    .await?
                    .map(|c| c.not_after);
                tracing::warn!(domain = %domain, %error, attempts, "renewal failed");
                if let Some(warn) = self.inner.renewal_warner.get() {
                    warn(RenewalFailure {
                        tenant: record.tenant,
                        domain: record.name.clone(),
                        reason: error.to_string(),
                        expires_at: expires,
                        attempts,
                    });
                }
                JobOutcome {
                    state: record.state,
                    phase: ProvisioningPhase::Online,
                    message: format!(
                        "Renewing the certificate failed: {error} The current certificate stays \
                         in use{}; the next attempt is at {}.",
                        expires
                            .map(|at| format!(" until it expires at {}", at.to_utc_string()))
                            .unwrap_or_default(),
                        (now + self.retry_delay(attempts)).to_utc_string()
                    ),
                    attempts,
                    next_attempt_at: now + self.retry_delay(attempts),
                }
            }
            Err(error) => {
                let attempts = record.attempts + 1;
                let phase = self.current_phase(&record).await.unwrap_or(record.phase);
                let retryable = matches!(
                    error,
                    ProvisioningError::AcmeUnavailable(_) | ProvisioningError::Storage(_)
                );
                if retryable && attempts < self.inner.settings.max_attempts {
                    tracing::warn!(domain = %domain, %error, attempts, "provisioning will retry");
                    let next = now + self.retry_delay(attempts);
                    JobOutcome {
                        state: DomainState::Provisioning,
                        phase,
                        message: format!(
                            "{error} Attempt {attempts} of {}; the next one starts at {}.",
                            self.inner.settings.max_attempts,
                            next.to_utc_string()
                        ),
                        attempts,
                        next_attempt_at: next,
                    }
                } else {
                    tracing::warn!(domain = %domain, %error, "provisioning failed");
                    JobOutcome {
                        state: DomainState::Failed,
                        phase,
                        message: error.to_string(),
                        attempts,
                        next_attempt_at: now,
                    }
                }
            }
        };
        self.inner
            .store
            .finish_job(record.id, &self.inner.node, &outcome, now)
            .await?;
        if let Some((state, message)) = check {
            self.inner
                .store
                .record_domain_check(record.id, state, &message, now)
                .await?;
        }
        Ok(())
    }

    /// First provisioning: DNS, CAA, then a certificate.
    async fn provision(
        &self,
        record: &DomainRecord,
        domain: &SsoDomain,
    ) -> Result<CertificateRecord, ProvisioningError> {
        self.progress(record.id, ProvisioningPhase::DnsCheck)
            .await?;
        let settings = &self.inner.settings;
        let target = self.cname_target(record.tenant).await?;
        self.inner.dns.check_cname(domain, &target).await?;
        self.inner
            .dns
            .check_caa(domain, &settings.caa_identities)
            .await?;
        self.issue(record, domain).await
    }

    /// Orders a certificate, stores it with its key sealed, and starts serving it.
    async fn issue(
        &self,
        record: &DomainRecord,
        domain: &SsoDomain,
    ) -> Result<CertificateRecord, ProvisioningError> {
        self.progress(record.id, ProvisioningPhase::CertificateOrder)
            .await?;
        let issued = self
            .inner
            .acme
            .issue(domain, record.id, Timestamp::now(), |phase| {
                self.progress(record.id, phase)
            })
            .await?;
        let certificate = CertificateRecord {
            domain_id: record.id,
            domain: domain.as_str().to_string(),
            chain_pem: issued.chain_pem,
            key_sealed: self
                .inner
                .secret
                .seal(&key_context(domain.as_str()), issued.key_pem.as_bytes())?,
            not_before: issued.not_before,
            not_after: issued.not_after,
            issued_at: Timestamp::now(),
        };
        // The domain may have been released while the CA was working.
        if self
            .inner
            .store
            .domain_by_name(domain.as_str())
            .await?
            .map(|d| d.id)
            != Some(record.id)
        {
            return Err(ProvisioningError::Cancelled);
        }
        self.inner.store.put_certificate(&certificate).await?;
        self.inner.resolver.reload().await?;
        Ok(certificate)
    }

    async fn progress(&self, id: i64, phase: ProvisioningPhase) -> Result<(), ProvisioningError> {
        let now = Timestamp::now();
        let kept = self
            .inner
            .store
            .report_job_progress(
                id,
                &self.inner.node,
                phase,
                "",
                now,
                now + self.inner.settings.lease,
            )
            .await?;
        if kept {
            Ok(())
        } else {
            Err(ProvisioningError::Cancelled)
        }
    }

    /// Renews the lease on a running job every third of the lease, and returns (ending the
    /// job) when it was lost, or when renewals have failed for so long that the lease may run
    /// out before the next one: past that point another node may take the job.
    async fn hold_lease(&self, id: i64) -> ProvisioningError {
        let lease = seconds(self.inner.settings.lease);
        let beat = lease / 3;
        let mut held_until = Instant::now() + lease;
        loop {
            tokio::time::sleep(beat).await;
            let asked = Instant::now();
            let until = Timestamp::now() + self.inner.settings.lease;
            match self
                .inner
                .store
                .renew_lease(id, &self.inner.node, until)
                .await
            {
                Ok(true) => held_until = asked + lease,
                Ok(false) => return ProvisioningError::Cancelled,
                Err(error) => tracing::warn!(%error, "cannot renew a job's lease"),
            }
            if held_until.saturating_duration_since(Instant::now()) <= beat {
                return ProvisioningError::Cancelled;
            }
        }
    }

    /// The step a job had reached, as its progress reports recorded it.
    async fn current_phase(&self, record: &DomainRecord) -> Option<ProvisioningPhase> {
        let stored = self
            .inner
            .store
            .domains_for_tenant(record.tenant)
            .await
            .ok()?;
        stored
            .into_iter()
            .find(|domain| domain.id == record.id)
            .map(|domain| domain.phase)
    }

    fn retry_delay(&self, attempts: i64) -> Seconds {
        let base = self.inner.settings.retry_base.0.max(1);
        let factor = 1i64 << attempts.clamp(1, 20).saturating_sub(1);
        Seconds(base.saturating_mul(factor).min(MAX_RETRY_DELAY.0))
    }

    /// Checks every provisioned domain now and records Online or Offline with the reason.
    pub async fn check_all(&self) -> Result<(), ProvisioningError> {
        self.check_domains(None).await
    }

    /// This round's monitoring: the domains no other node has checked within the last half
    /// interval, so the cluster checks each domain once per interval, not once per node.
    pub async fn check_due(&self) -> Result<(), ProvisioningError> {
        let interval = self.inner.settings.check_interval;
        self.check_domains(Some(Seconds(interval.0 / 2))).await
    }

    async fn check_domains(
        &self,
        claim_older_than: Option<Seconds>,
    ) -> Result<(), ProvisioningError> {
        for record in self.inner.store.provisioned_domains().await? {
            let domain = SsoDomain::from_stored(record.name.clone());
            let now = Timestamp::now();
            if let Some(age) = claim_older_than {
                let claimed = self
                    .inner
                    .store
                    .claim_domain_check(record.id, now, now - age)
                    .await?;
                if !claimed {
                    continue;
                }
            }
            let (state, message) = self.check(&record, &domain, now).await;
            if state != record.state {
                tracing::info!(domain = %domain, ?state, %message, "domain status changed");
            }
            self.inner
                .store
                .record_domain_check(record.id, state, &message, now)
                .await?;
        }
        Ok(())
    }

    /// One check of a provisioned domain: the CNAME still points at us, the certificate is
    /// valid, and a real handshake with our edge gets that certificate.
    async fn check(
        &self,
        record: &DomainRecord,
        domain: &SsoDomain,
        now: Timestamp,
    ) -> (DomainState, String) {
        let settings = &self.inner.settings;
        let proof = match self.cname_target(record.tenant).await {
            Ok(target) => self.inner.dns.check_cname(domain, &target).await,
            Err(error) => Err(error),
        };
        if let Err(error) = proof {
            return (DomainState::Offline, error.to_string());
        }
        let certificate = match self.inner.store.certificate_for_domain(record.id).await {
            Ok(Some(certificate)) => certificate,
            Ok(None) => return (DomainState::Offline, "No certificate is stored.".into()),
            Err(error) => {
                return (
                    DomainState::Offline,
                    format!("Cannot read the certificate: {error}"),
                )
            }
        };
        if certificate.not_after <= now {
            return (
                DomainState::Offline,
                format!(
                    "The certificate expired at {}; renewal has not succeeded yet.",
                    certificate.not_after.to_utc_string()
                ),
            );
        }
        let leaf = match leaf_der(&certificate.chain_pem) {
            Ok(leaf) => leaf,
            Err(error) => return (DomainState::Offline, error.to_string()),
        };
        let edge = loopback_if_unspecified(settings.edge_address);
        match self_check::handshake(edge, settings.edge_proxy_protocol, domain.as_str(), leaf).await
        {
            Ok(()) => (DomainState::Online, String::new()),
            Err(error) => (
                DomainState::Offline,
                format!("The HTTPS check failed: {error}."),
            ),
        }
    }

    /// Runs the background work until the process ends: due jobs when woken or every few
    /// seconds, checks every `check_interval`, certificate reloads every `reload_interval`.
    pub async fn run_background(self) {
        if let Err(error) = self.inner.resolver.reload().await {
            tracing::error!(%error, "loading certificates failed");
        }
        let settings = &self.inner.settings;
        let mut checks = tokio::time::interval(seconds(settings.check_interval));
        let mut reloads = tokio::time::interval(seconds(settings.reload_interval));
        let mut polls = tokio::time::interval(Duration::from_secs(2));
        let mut changes = match self.inner.store.certificate_changes().await {
            Ok(changes) => changes,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for other nodes' certificate changes; reloading on the timer only");
                None
            }
        };
        loop {
            tokio::select! {
                _ = self.inner.wake.notified() => self.log(self.run_due_jobs().await.map(drop)),
                _ = polls.tick() => self.log(self.run_due_jobs().await.map(drop)),
                _ = checks.tick() => self.log(self.check_due().await),
                _ = reloads.tick() => self.log(self.inner.resolver.reload().await.map(drop)),
                heard = next_change(&mut changes) => match heard {
                    Ok(()) => self.log(self.inner.resolver.reload().await.map(drop)),
                    Err(error) => {
                        tracing::warn!(%error, "listening for certificate changes failed; reloading on the timer only");
                        changes = None;
                    }
                },
            }
        }
    }

    fn log(&self, result: Result<(), ProvisioningError>) {
        if let Err(error) = result {
            tracing::error!(%error, "background provisioning work failed");
        }
    }
}

/// The next certificate change another node announced; never, without a subscription.
async fn next_change(changes: &mut Option<CertificateChanges>) -> Result<(), StorageError> {
    match changes {
        Some(changes) => changes.next().await,
        None => std::future::pending().await,
    }
}

/// `<cloud-id>-<tag>.<edge name>`: the tag is eight hex digits of SHA-256 over the tenant's row
/// id and Cloud ID. It needs no secret: what protects a name is that only its owner's DNS can
/// point it at the tag, and the row id keeps two tenants that held the same Cloud ID apart.
pub fn tenant_cname_target(tenant: TenantId, cloud_id: &str, edge_name: &str) -> String {
    let digest = ring::digest::digest(
        &ring::digest::SHA256,
        format!("vestibule-cname-target:{}:{cloud_id}", tenant.0).as_bytes(),
    );
    let tag: String = digest.as_ref()[..4]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!(
        "{cloud_id}-{tag}.{}",
        edge_name.trim_end_matches('.').to_ascii_lowercase()
    )
}

/// Renew when a third of the certificate's lifetime is left (day 60 of 90 for Let's Encrypt).
fn renewal_time(certificate: &CertificateRecord) -> Timestamp {
    let lifetime = certificate.not_after.0 - certificate.not_before.0;
    Timestamp(certificate.not_before.0 + lifetime * 2 / 3)
}

fn seconds(value: Seconds) -> Duration {
    Duration::from_secs(u64::try_from(value.0.max(1)).unwrap_or(1))
}

fn loopback_if_unspecified(address: SocketAddr) -> SocketAddr {
    if address.ip().is_unspecified() {
        SocketAddr::from(([127, 0, 0, 1], address.port()))
    } else {
        address
    }
}

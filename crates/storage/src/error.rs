use std::fmt;

/// A uniqueness rule the database refused to break.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    CloudId,
    StaffEmail,
    /// The domain is already claimed by a Cloud ID.
    DomainName,
    /// The Cloud ID already has a domain.
    TenantDomain,
    /// The tenant's member directory already has this username.
    MemberUsername,
    /// The tenant already has a SAML app with this entity id.
    SamlEntityId,
    /// The staff member already has an authenticator app.
    SecondFactorEnrolled,
    /// This authenticator's passkey is already registered.
    PasskeyRegistered,
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Conflict::CloudId => "a tenant with this Cloud ID already exists",
            Conflict::StaffEmail => "a staff member with this e-mail address already exists",
            Conflict::DomainName => "this domain is already in use by another Cloud ID",
            Conflict::TenantDomain => "this Cloud ID already has as many domains as it may hold",
            Conflict::MemberUsername => "a member with this username already exists",
            Conflict::SamlEntityId => "a SAML app with this entity id already exists",
            Conflict::SecondFactorEnrolled => {
                "an authenticator app is already set up: remove it before adding another"
            }
            Conflict::PasskeyRegistered => "this passkey is already added",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("{0}")]
    Conflict(Conflict),
    #[error("the database URL is not usable: {0}")]
    InvalidUrl(String),
    #[error("stored data does not parse: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl From<sqlx::Error> for StorageError {
    /// Unique violations become [`StorageError::Conflict`] by constraint: PostgreSQL names the
    /// constraint, SQLite names the column in its message.
    fn from(error: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &error {
            if db.is_unique_violation() {
                let constraint = db.constraint().unwrap_or_default();
                let message = db.message();
                if constraint == "tenants_cloud_id_key" || message.contains("tenants.cloud_id") {
                    return StorageError::Conflict(Conflict::CloudId);
                }
                if constraint == "staff_email_key" || message.contains("staff.email") {
                    return StorageError::Conflict(Conflict::StaffEmail);
                }
                if constraint == "domains_name_key" || message.contains("domains.name") {
                    return StorageError::Conflict(Conflict::DomainName);
                }
                // Two first domains claimed at once: both would be primary.
                if constraint == "domains_one_primary" || message.contains("domains.tenant_id") {
                    return StorageError::Conflict(Conflict::TenantDomain);
                }
                if constraint == "directory_members_username_key"
                    || message.contains("directory_members.username")
                {
                    return StorageError::Conflict(Conflict::MemberUsername);
                }
                if constraint == "staff_passkeys_credential_key"
                    || message.contains("staff_passkeys.credential_id")
                {
                    return StorageError::Conflict(Conflict::PasskeyRegistered);
                }
                if constraint == "saml_apps_entity_id_key"
                    || message.contains("saml_apps.entity_id")
                {
                    return StorageError::Conflict(Conflict::SamlEntityId);
                }
            }
        }
        StorageError::Database(error)
    }
}

impl From<vestibule_domain::InvalidInput> for StorageError {
    fn from(error: vestibule_domain::InvalidInput) -> Self {
        StorageError::Corrupt(error.to_string())
    }
}

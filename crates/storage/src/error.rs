use std::fmt;

/// A uniqueness rule the database refused to break.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    CloudId,
    StaffEmail,
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Conflict::CloudId => "a tenant with this Cloud ID already exists",
            Conflict::StaffEmail => "a staff member with this e-mail address already exists",
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

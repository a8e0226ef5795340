//! Telling every node that something it holds in memory has changed. Each node keeps the
//! certificates it serves decoded in memory; when one node issues, renews or releases one, the
//! others hear it through PostgreSQL's `LISTEN`/`NOTIFY` and reload at once. A notification
//! sent while a node's listening connection was down is lost, so nodes also reload on a timer.
//!
//! SQLite runs one node, which reloads after its own changes: there is nothing to listen to.

use sqlx::postgres::PgListener;

use crate::store::Pool;
use crate::{Result, Store};

const CERTIFICATES_CHANNEL: &str = "vestibule_certificates";

/// A subscription to certificate changes made by any node.
pub struct CertificateChanges {
    listener: PgListener,
}

impl CertificateChanges {
    /// Waits for the next change. A lost connection is reopened on the next call (the changes
    /// made meanwhile are not reported: the timed reload covers them).
    pub async fn next(&mut self) -> Result<()> {
        self.listener.recv().await?;
        Ok(())
    }
}

impl Store {
    /// Subscribes to certificate changes; `None` on SQLite, where there is one node.
    pub async fn certificate_changes(&self) -> Result<Option<CertificateChanges>> {
        match &self.pool {
            Pool::Sqlite(_) => Ok(None),
            Pool::Postgres(pool) => {
                let mut listener = PgListener::connect_with(pool).await?;
                listener.listen(CERTIFICATES_CHANNEL).await?;
                Ok(Some(CertificateChanges { listener }))
            }
        }
    }

    /// Tells the listening nodes that the certificates changed.
    pub(crate) async fn announce_certificate_change(&self) -> Result<()> {
        if let Pool::Postgres(pool) = &self.pool {
            sqlx::query("SELECT pg_notify($1, '')")
                .bind(CERTIFICATES_CHANNEL)
                .execute(pool)
                .await?;
        }
        Ok(())
    }
}

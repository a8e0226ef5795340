//! Telling every node that something it holds in memory has changed. Each node keeps the
//! certificates it serves decoded in memory; when one node issues, renews or releases one, the
//! others hear it through PostgreSQL's `LISTEN`/`NOTIFY` and reload at once. A notification
//! sent while a node's listening connection was down is lost, so nodes also reload on a timer.
//!
//! SQLite runs one server, but the command line is another process writing the same file (a
//! domain released from a script): every change also increments `certificate_generation`, which
//! a server on SQLite polls every second.

use std::time::Duration;

use sqlx::postgres::PgListener;

use crate::store::{with_pool, Pool};
use crate::{Result, Store};

const CERTIFICATES_CHANNEL: &str = "vestibule_certificates";

/// How often a server on SQLite looks at the certificate generation.
const POLL: Duration = Duration::from_secs(1);

/// A subscription to certificate changes made by any node or process.
pub enum CertificateChanges {
    Listen(Box<PgListener>),
    Poll { store: Store, seen: i64 },
}

impl CertificateChanges {
    /// Waits for the next change. A lost connection is reopened on the next call (the changes
    /// made meanwhile are not reported: the timed reload covers them).
    pub async fn next(&mut self) -> Result<()> {
        match self {
            CertificateChanges::Listen(listener) => {
                listener.recv().await?;
                Ok(())
            }
            CertificateChanges::Poll { store, seen } => loop {
                tokio::time::sleep(POLL).await;
                let now = store.certificate_generation().await?;
                if now != *seen {
                    *seen = now;
                    return Ok(());
                }
            },
        }
    }
}

impl Store {
    /// Subscribes to certificate changes: `NOTIFY` on PostgreSQL, the generation counter
    /// polled on SQLite.
    pub async fn certificate_changes(&self) -> Result<Option<CertificateChanges>> {
        match &self.pool {
            Pool::Sqlite(_) => Ok(Some(CertificateChanges::Poll {
                store: self.clone(),
                seen: self.certificate_generation().await?,
            })),
            Pool::Postgres(pool) => {
                let mut listener = PgListener::connect_with(pool).await?;
                listener.listen(CERTIFICATES_CHANNEL).await?;
                Ok(Some(CertificateChanges::Listen(Box::new(listener))))
            }
        }
    }

    /// How many certificate changes there have been.
    pub async fn certificate_generation(&self) -> Result<i64> {
        Ok(with_pool!(self, pool => {
            sqlx::query_scalar("SELECT value FROM certificate_generation WHERE id = 1")
                .fetch_one(pool)
                .await?
        }))
    }

    /// Tells the other nodes and processes that the certificates changed.
    pub(crate) async fn announce_certificate_change(&self) -> Result<()> {
        with_pool!(self, pool => {
            sqlx::query("UPDATE certificate_generation SET value = value + 1 WHERE id = 1")
                .execute(pool)
                .await?;
        });
        if let Pool::Postgres(pool) = &self.pool {
            sqlx::query("SELECT pg_notify($1, '')")
                .bind(CERTIFICATES_CHANNEL)
                .execute(pool)
                .await?;
        }
        Ok(())
    }
}

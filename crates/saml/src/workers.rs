//! XML-security work (libxmlsec1 verifying or signing) runs here: on Tokio's blocking threads,
//! never on an async worker, at most one job per core at a time, and within a time budget. A
//! slow message delays only its own request; the rest of the server keeps answering.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

/// The pool of permits for XML-security work. Cloning shares the permits.
#[derive(Debug, Clone)]
pub struct SignatureWorkers {
    permits: Arc<Semaphore>,
    budget: Duration,
}

/// The work did not finish (or start) within the budget, or it panicked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overrun;

impl SignatureWorkers {
    /// `concurrency` jobs at once; each request waits for a permit and its result at most
    /// `budget` in all.
    pub fn new(concurrency: usize, budget: Duration) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            budget,
        }
    }

    /// One job per core, two seconds a message: a legitimate signature takes milliseconds.
    pub fn sized_to_cores() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        Self::new(cores, Duration::from_secs(2))
    }

    /// Runs `work` on a blocking thread once a permit is free. The permit goes with the work,
    /// so a job that overruns its caller's budget still counts against the pool until it ends:
    /// slow messages cannot pile up more threads than there are permits.
    pub async fn run<T, F>(&self, work: F) -> Result<T, Overrun>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let deadline = Instant::now() + self.budget;
        let permit = tokio::time::timeout(self.budget, self.permits.clone().acquire_owned())
            .await
            .map_err(|_| Overrun)?
            .map_err(|_| Overrun)?;
        let job = tokio::task::spawn_blocking(move || {
            let _permit = permit;
            work()
        });
        let remaining = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(remaining, job).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(_panicked)) => Err(Overrun),
            Err(_elapsed) => {
                tracing::warn!(
                    budget_ms = self.budget.as_millis() as u64,
                    "XML-security work overran its budget"
                );
                Err(Overrun)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn slow_work_overruns_alone_and_holds_its_permit() {
        let workers = SignatureWorkers::new(1, Duration::from_millis(200));
        let slow = workers.run(|| std::thread::sleep(Duration::from_millis(600)));
        assert_eq!(slow.await, Err(Overrun));
        // The slow job still holds the only permit: the next waits and overruns too, while the
        // async runtime itself stays free (this test keeps running).
        let started = Instant::now();
        assert_eq!(workers.run(|| 1).await, Err(Overrun));
        assert!(started.elapsed() < Duration::from_millis(500));
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(workers.run(|| 2).await, Ok(2));
    }
}

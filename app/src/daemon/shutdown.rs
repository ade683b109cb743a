//! [`Shutdown`]: the one stop signal of the daemon, for async tasks and blocking jobs alike.

use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;

/// Set once (SIGTERM, SIGINT, `--once` finishing); never cleared.
#[derive(Debug, Default)]
pub struct Shutdown {
    flag: AtomicBool,
    notify: Notify,
}

impl Shutdown {
    pub fn new() -> Shutdown {
        Shutdown::default()
    }

    /// Asks every job to stop.
    pub fn trigger(&self) {
        self.flag.store(true, Ordering::Release);
        self.notify.notify_waiters();
    }

    /// Whether a stop was asked (blocking jobs poll this between batches).
    pub fn is_set(&self) -> bool {
        self.flag.load(Ordering::Acquire)
    }

    /// Resolves when a stop is asked (at once if it already was).
    pub async fn wait(&self) {
        loop {
            let notified = self.notify.notified();
            if self.is_set() {
                return;
            }
            notified.await;
        }
    }

    /// Sleeps for `d`, or less when a stop is asked; `true` when stopping.
    pub async fn sleep(&self, d: std::time::Duration) -> bool {
        tokio::select! {
            () = tokio::time::sleep(d) => self.is_set(),
            () = self.wait() => true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sleep_ends_early_on_trigger() {
        let s = std::sync::Arc::new(Shutdown::new());
        let s2 = std::sync::Arc::clone(&s);
        let t = tokio::spawn(async move { s2.sleep(std::time::Duration::from_secs(3600)).await });
        tokio::task::yield_now().await;
        s.trigger();
        let stopped = tokio::time::timeout(std::time::Duration::from_secs(5), t)
            .await
            .expect("ended in time")
            .expect("task");
        assert!(stopped);
        assert!(s.sleep(std::time::Duration::from_secs(3600)).await);
    }
}

//! The time the engine writes down (journal records, the cluster manifest's
//! entries): the system clock, or a fixed one, so that tests can compare
//! what a run writes byte for byte.

use std::sync::Arc;

/// Gives the time as RFC 3339 text.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> String + Send + Sync>);

impl Clock {
    /// The system clock (UTC).
    pub fn system() -> Clock {
        Clock(Arc::new(super::now_rfc3339))
    }

    /// Always the same time (tests).
    pub fn fixed(time: &str) -> Clock {
        let time = time.to_string();
        Clock(Arc::new(move || time.clone()))
    }

    pub fn now(&self) -> String {
        (self.0)()
    }
}

impl Default for Clock {
    fn default() -> Clock {
        Clock::system()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Clock({})", self.now())
    }
}

//! Work on something that may hang (a share, a folder on one), at most once
//! at a time per key in this process: a watch, the wizard's health screen
//! and tests may start rounds while an earlier one still waits, and a hung
//! share must cost one blocked thread, not one per round.

use std::collections::BTreeSet;
use std::sync::Mutex;

static RUNNING: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());

/// The right to do the work of `key`, given back when dropped (also when
/// the work panics).
pub(crate) struct Slot {
    key: String,
}

impl Slot {
    /// None while the work of `key` runs elsewhere.
    pub(crate) fn take(key: String) -> Option<Slot> {
        let mut running = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
        // Made only when taken: a Slot dropped here would give back a key
        // that another holds (and lock the set again).
        running.insert(key.clone()).then(|| Slot { key })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut running = RUNNING.lock().unwrap_or_else(|e| e.into_inner());
        running.remove(&self.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_at_a_time_per_key_and_given_back_after_a_panic() {
        let a = Slot::take("test:a".into()).unwrap();
        assert!(Slot::take("test:a".into()).is_none());
        assert!(Slot::take("test:b".into()).is_some());
        drop(a);
        let _ = std::thread::spawn(|| {
            let _slot = Slot::take("test:c".into()).unwrap();
            panic!("the work failed");
        })
        .join();
        assert!(Slot::take("test:c".into()).is_some());
    }
}

//! A node's server ID in MDaemon's Cluster Service.

use serde::{Deserialize, Serialize};

/// A server ID, never 0 (so that "not set" is `Option::None`). New IDs
/// ([`ServerId::new`], [`ServerId::next`]) are 1 to 65535; one read from a
/// file is taken as written when it is not 0 (an earlier mdcluster could
/// hand out 65536, and its manifest must stay readable and undoable).
/// Written as a plain number (plan, manifest, JSON).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct ServerId(u32);

impl ServerId {
    /// The first ID, the primary's by default.
    pub(crate) const FIRST: ServerId = ServerId(1);

    /// The highest ID mdcluster hands out.
    pub const MAX: u32 = 65535;

    /// None for 0 and for numbers above [`ServerId::MAX`].
    pub fn new(n: u32) -> Option<ServerId> {
        (1..=Self::MAX).contains(&n).then_some(ServerId(n))
    }

    pub fn get(self) -> u32 {
        self.0
    }

    /// The ID after this one; None past [`ServerId::MAX`].
    pub fn next(self) -> Option<ServerId> {
        self.0.checked_add(1).and_then(ServerId::new)
    }
}

impl TryFrom<u32> for ServerId {
    type Error = String;
    /// As read from a file: anything but 0.
    fn try_from(n: u32) -> Result<ServerId, String> {
        if n == 0 {
            return Err("server ID 0 is no server ID".into());
        }
        Ok(ServerId(n))
    }
}

impl From<ServerId> for u32 {
    fn from(id: ServerId) -> u32 {
        id.get()
    }
}

/// So that an ID compares with a number as written ("ID 2").
impl PartialEq<u32> for ServerId {
    fn eq(&self, n: &u32) -> bool {
        self.get() == *n
    }
}

impl std::fmt::Display for ServerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_1_to_65535_is_an_id() {
        assert_eq!(ServerId::new(0), None);
        assert_eq!(ServerId::new(65536), None);
        assert_eq!(ServerId::new(65535).unwrap().get(), 65535);
        assert_eq!(ServerId::new(65535).unwrap().next(), None);
        assert_eq!(ServerId::FIRST.next(), ServerId::new(2));
        assert_eq!(serde_json::to_string(&ServerId::new(7)).unwrap(), "7");
        assert_eq!(
            serde_json::from_str::<ServerId>("7").unwrap(),
            ServerId::new(7).unwrap()
        );
        assert!(serde_json::from_str::<ServerId>("0").is_err());
        // What an earlier version may have written is read as it is.
        let old: ServerId = serde_json::from_str("65536").unwrap();
        assert_eq!(old.get(), 65536);
        assert_eq!(old.next(), None);
        let last: ServerId = serde_json::from_str("4294967295").unwrap();
        assert_eq!(last.next(), None);
    }
}

//! A node's server ID in MDaemon's Cluster Service.

use serde::{Deserialize, Serialize};

/// A server ID: 1 to 65535, so that "not set" is `Option::None`, never 0.
/// Written as a plain number (plan, manifest, JSON); a number out of range
/// does not read as one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct ServerId(u16);

impl ServerId {
    /// The first ID, the primary's by default.
    pub(crate) const FIRST: ServerId = ServerId(1);

    /// None for 0 and for numbers above 65535.
    pub fn new(n: u32) -> Option<ServerId> {
        u16::try_from(n).ok().filter(|n| *n != 0).map(ServerId)
    }

    pub fn get(self) -> u32 {
        u32::from(self.0)
    }

    /// The ID after this one; None past 65535.
    pub fn next(self) -> Option<ServerId> {
        self.0.checked_add(1).map(ServerId)
    }
}

impl TryFrom<u32> for ServerId {
    type Error = String;
    fn try_from(n: u32) -> Result<ServerId, String> {
        ServerId::new(n).ok_or_else(|| format!("server ID {n} is not from 1 to 65535"))
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
        assert!(serde_json::from_str::<ServerId>("70000").is_err());
    }
}

//! The hash that notices a file changed between a preview and the change:
//! BLAKE3 of the bytes, kept as lower-case hex (how the journal has always
//! written it; `serde(transparent)` keeps that byte for byte).

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ContentHash(String);

impl ContentHash {
    /// The hash of `bytes`.
    pub fn of(bytes: &[u8]) -> ContentHash {
        ContentHash(blake3::hash(bytes).to_hex().to_string())
    }
}

impl std::fmt::Display for ContentHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_as_the_hex_string_it_always_was() {
        let h = ContentHash::of(b"abc");
        let json = serde_json::to_string(&h).unwrap();
        assert_eq!(
            json,
            "\"6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85\""
        );
        assert_eq!(serde_json::from_str::<ContentHash>(&json).unwrap(), h);
        assert_ne!(ContentHash::of(b"abd"), h);
    }
}

//! Windows-1252, the ANSI code page MDaemon writes MDaemon.ini and
//! Userlist.dat in: one byte per character, every byte decodable.

use encoding_rs::WINDOWS_1252;
use std::borrow::Cow;

/// Encodes `text` as Windows-1252 (WHATWG mapping, so U+0081, U+008D,
/// U+008F, U+0090 and U+009D round-trip to their bytes), one byte per
/// character. Errs with the first character that has no byte.
pub(crate) fn encode_windows_1252(text: &str) -> Result<Cow<'_, [u8]>, char> {
    if text.is_ascii() {
        return Ok(Cow::Borrowed(text.as_bytes()));
    }
    let mut out = Vec::with_capacity(text.len());
    let mut buf = [0u8; 4];
    for ch in text.chars() {
        // `encode` replaces an unmappable char with "&#NNN;" and reports it.
        let (bytes, _, unmappable) = WINDOWS_1252.encode(ch.encode_utf8(&mut buf));
        match (unmappable, bytes.as_ref()) {
            (false, [byte]) => out.push(*byte),
            _ => return Err(ch),
        }
    }
    Ok(Cow::Owned(out))
}

/// Decodes Windows-1252; never fails (every byte maps to a character).
pub(crate) fn decode_windows_1252(bytes: &[u8]) -> String {
    WINDOWS_1252
        .decode_without_bom_handling(bytes)
        .0
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_byte() {
        let all: Vec<u8> = (0..=255).collect();
        let text = decode_windows_1252(&all);
        assert_eq!(encode_windows_1252(&text).unwrap().as_ref(), &all[..]);
        assert_eq!(encode_windows_1252("€"), Ok(Cow::Owned(vec![0x80])));
        assert_eq!(encode_windows_1252("Ω"), Err('Ω'));
    }
}

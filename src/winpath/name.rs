//! Single file/folder names: validity checks and case folding.

use std::fmt;

/// Most UTF-16 code units Windows (NTFS, ReFS, exFAT, FAT32 long names)
/// allows in one name.
pub const MAX_NAME_LEN: usize = 255;

/// Why Windows would refuse a file or folder name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameProblem {
    /// The name has no characters.
    Empty,
    /// The first character Windows does not allow in names.
    InvalidChar(char),
    /// The device name the name resolves to, in upper case (`NUL`, `COM1`, ...).
    ReservedDeviceName(String),
    /// The name ends with `.` or ` `; Win32 strips those silently.
    TrailingDotOrSpace,
    /// The name is longer than [`MAX_NAME_LEN`] UTF-16 code units.
    TooLong,
}

impl fmt::Display for NameProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameProblem::Empty => {
                f.write_str("is empty; a file or folder name needs at least one character")
            }
            NameProblem::InvalidChar(c) if c.is_control() => write!(
                f,
                "contains the control character U+{:04X} which Windows does not allow in names",
                u32::from(*c)
            ),
            NameProblem::InvalidChar(c) => {
                write!(f, "contains '{c}' which Windows does not allow in names")
            }
            NameProblem::ReservedDeviceName(dev) => write!(
                f,
                "is the reserved Windows device name {dev} (reserved in any letter case and \
                 even with an extension, such as {dev}.txt); choose another name"
            ),
            NameProblem::TrailingDotOrSpace => f.write_str(
                "ends with a dot or a space, which Windows silently strips, so the file \
                 would not get the name asked for; remove the trailing dot or space",
            ),
            NameProblem::TooLong => write!(
                f,
                "is longer than {MAX_NAME_LEN} UTF-16 code units, the most Windows allows \
                 for one name; choose a shorter name"
            ),
        }
    }
}

impl std::error::Error for NameProblem {}

/// Characters Windows refuses in names: `<>:"/\|?*` and U+0000..=U+001F.
pub(crate) fn is_invalid_name_char(c: char) -> bool {
    matches!(c, '<' | '>' | ':' | '"' | '/' | '\\' | '|' | '?' | '*') || c <= '\u{1f}'
}

/// Checks one file or folder name the way Windows would refuse it.
///
/// The first problem found is reported, checked in this order: empty,
/// invalid character, reserved device name, trailing dot or space, length.
///
/// Reserved device names are `CON PRN AUX NUL COM1-COM9 LPT1-LPT9`, plus the
/// superscript forms `COM¹ COM² COM³ LPT¹ LPT² LPT³` and the console names
/// `CONIN$ CONOUT$`, which Windows also treats as devices. They are matched
/// case-insensitively on the part before the first dot, with trailing spaces
/// ignored, because Win32 maps `nul.txt`, `NUL.tar.gz` and `nul .txt` to the
/// device too. `COM0`/`LPT0` are ordinary names on current Windows.
pub fn check_name(name: &str) -> Result<(), NameProblem> {
    if name.is_empty() {
        return Err(NameProblem::Empty);
    }
    if let Some(c) = name.chars().find(|&c| is_invalid_name_char(c)) {
        return Err(NameProblem::InvalidChar(c));
    }
    if let Some(dev) = reserved_device_name(name) {
        return Err(NameProblem::ReservedDeviceName(dev));
    }
    if name.ends_with(['.', ' ']) {
        return Err(NameProblem::TrailingDotOrSpace);
    }
    if name.encode_utf16().count() > MAX_NAME_LEN {
        return Err(NameProblem::TooLong);
    }
    Ok(())
}

/// The device a name would open instead of a file, if any (upper case).
fn reserved_device_name(name: &str) -> Option<String> {
    // `split` always yields at least one item; the fallback is never used.
    let stem = name.split('.').next().unwrap_or(name);
    let stem = stem.trim_end_matches(' ');
    for dev in ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"] {
        if stem.eq_ignore_ascii_case(dev) {
            return Some(dev.to_string());
        }
    }
    let head = stem.get(..3)?;
    let mut tail = stem.get(3..)?.chars();
    let (Some(digit), None) = (tail.next(), tail.next()) else {
        return None;
    };
    let is_port_digit = matches!(digit, '1'..='9' | '¹' | '²' | '³');
    ["COM", "LPT"]
        .into_iter()
        .find(|dev| head.eq_ignore_ascii_case(dev) && is_port_digit)
        .map(|dev| format!("{dev}{digit}"))
}

/// Folds one character for case-insensitive comparison.
///
/// Simple (one-to-one) upper-casing: NTFS compares names through a per-volume
/// table that maps each UTF-16 unit to exactly one unit, so a character whose
/// full upper case is several characters (`ß` -> `SS`) is kept unchanged.
pub(crate) fn fold_char(c: char) -> char {
    let mut up = c.to_uppercase();
    match (up.next(), up.next()) {
        (Some(u), None) => u,
        _ => c,
    }
}

/// Case folding used for every comparison: the form under which two names
/// collide on Windows/NTFS.
///
/// Each character is upper-cased with Rust's Unicode tables; if that yields
/// more than one character the original is kept. This approximates the NTFS
/// `$UpCase` table; see the module documentation for where they differ.
pub fn fold(name: &str) -> String {
    name.chars().map(fold_char).collect()
}

/// Whether two names refer to the same entry on Windows (equal after [`fold`]).
pub fn names_collide(a: &str, b: &str) -> bool {
    a.chars().map(fold_char).eq(b.chars().map(fold_char))
}

//! Windows paths of an MDaemon server, handled as plain data on any OS.
//!
//! mdcluster runs (and is tested) on Linux but writes paths that an MDaemon
//! server on Windows will use, so nothing here touches `std::path`: every
//! Windows rule is ordinary string code.
//!
//! # What [`WinPath::parse`] accepts
//!
//! * Only absolute paths: a drive path `C:\MDaemon\App` (letter stored upper
//!   case) or a UNC path `\\server\share\folder`. `\\?\C:\x` is read as
//!   `C:\x` and `\\?\UNC\server\share\x` as `\\server\share\x`.
//! * Refused: relative `MDaemon\App`, drive-relative `C:` / `C:App`,
//!   root-relative `\MDaemon`, device paths `\\.\...`, other `\\?\` forms,
//!   and a UNC path without a server or share.
//! * `\` and `/` are both separators; repeated separators collapse after the
//!   `\\server\share` root; a trailing separator is ignored.
//! * `.` components are dropped. `..` is always an error and never resolved,
//!   so a path built here cannot climb out of the folder it names.
//! * Every component (and the UNC share) must pass [`check_name`]: no
//!   `<>:"/\|?*` or control characters, no reserved device name such as
//!   `CON` or `nul.txt`, no trailing dot or space, at most 255 UTF-16 units.
//!   The UNC server is only checked for those forbidden characters.
//! * Components keep their original case; non-ASCII names are fine.
//! * Total length is not limited by parsing; ask [`WinPath::check_length`]
//!   (MAX_PATH = 260 UTF-16 units including the NUL, so 259 characters).
//!
//! # Comparison and its known approximations
//!
//! Equality, hashing, [`WinPath::starts_with`], [`WinPath::strip_prefix`]
//! and [`names_collide`] compare the [`fold`]ed form, i.e. case-insensitively
//! like Windows. NTFS compares names through the `$UpCase` table written when
//! the volume was formatted, a one-to-one map of UTF-16 code units. [`fold`]
//! approximates it with Rust's `char::to_uppercase`, keeping a character
//! whose upper case is several characters (`ß`, `ŉ`, ligatures). Known
//! differences:
//!
//! * NTFS cannot fold characters outside the BMP (they are surrogate pairs);
//!   `fold` does (e.g. Deseret `𐐨` -> `𐐀`), so such names may compare equal
//!   here yet be distinct on disk.
//! * The Unicode version of the volume's table can be older or newer than
//!   Rust's, and single letters may differ (for example `ı`, `ſ`, `µ`).
//! * 8.3 short names (`PROGRA~1`), junctions and mapped drives are not
//!   resolved: `\\host\C$\x` and `C:\x` are different paths here.
//!
//! Drive and UNC paths never compare equal. `\\?\` spellings are not
//! preserved: [`Display`](std::fmt::Display) always gives the plain form.

mod error;
mod name;
mod parse;

#[cfg(test)]
mod tests;

use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

pub use error::WinPathError;
pub use name::{check_name, fold, names_collide, NameProblem, MAX_NAME_LEN};

use name::fold_char;

/// Windows `MAX_PATH`: 260 UTF-16 units *including* the terminating NUL, so
/// a path may have at most 259 characters.
pub const MAX_PATH: usize = 260;

/// An absolute Windows path as MDaemon sees it: a drive path or a UNC path.
///
/// `PartialEq`, `Eq` and `Hash` are case-insensitive (see [`fold`]).
#[derive(Clone, Debug)]
pub struct WinPath {
    prefix: Prefix,
    components: Vec<String>,
}

/// The root of a [`WinPath`].
///
/// `PartialEq`, `Eq` and `Hash` are case-insensitive (see [`fold`]).
#[derive(Clone, Debug)]
pub enum Prefix {
    /// `C:\` — the letter is stored upper case (`A`..=`Z`).
    Drive(char),
    /// `\\server\share\` — both kept in their original case.
    Unc {
        /// NetBIOS name, DNS name or IPv4 address.
        server: String,
        /// Share name.
        share: String,
    },
}

impl PartialEq for Prefix {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Prefix::Drive(a), Prefix::Drive(b)) => fold_char(*a) == fold_char(*b),
            (
                Prefix::Unc { server, share },
                Prefix::Unc {
                    server: server2,
                    share: share2,
                },
            ) => names_collide(server, server2) && names_collide(share, share2),
            _ => false,
        }
    }
}

impl Eq for Prefix {}

/// Hashes the folded characters of `name` plus a terminator that no `char`
/// can produce, so `["ab", "c"]` and `["a", "bc"]` hash differently.
fn hash_folded<H: Hasher>(name: &str, state: &mut H) {
    for c in name.chars() {
        state.write_u32(u32::from(fold_char(c)));
    }
    state.write_u32(u32::MAX);
}

impl Hash for Prefix {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self {
            Prefix::Drive(c) => {
                state.write_u8(0);
                state.write_u32(u32::from(fold_char(*c)));
            }
            Prefix::Unc { server, share } => {
                state.write_u8(1);
                hash_folded(server, state);
                hash_folded(share, state);
            }
        }
    }
}

impl fmt::Display for Prefix {
    /// `C:` or `\\server\share` (no trailing backslash).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Prefix::Drive(c) => write!(f, "{c}:"),
            Prefix::Unc { server, share } => write!(f, "\\\\{server}\\{share}"),
        }
    }
}

impl WinPath {
    /// Parses an absolute drive or UNC path; see the module docs for the rules.
    pub fn parse(s: &str) -> Result<WinPath, WinPathError> {
        parse::parse(s)
    }

    /// The drive or `\\server\share` root.
    pub fn prefix(&self) -> &Prefix {
        &self.prefix
    }

    /// The components below the root, in their original case.
    pub fn components(&self) -> &[String] {
        &self.components
    }

    /// Whether this is a `\\server\share` path.
    pub(crate) fn is_unc(&self) -> bool {
        matches!(self.prefix, Prefix::Unc { .. })
    }

    /// Whether this is a `C:\` path.
    pub(crate) fn is_drive(&self) -> bool {
        matches!(self.prefix, Prefix::Drive(_))
    }

    /// Appends a relative path of one or more components separated by `\`
    /// or `/`. Refuses the empty string, anything absolute, root- or
    /// drive-relative, `..`, and invalid names. `.` and repeated separators
    /// are ignored as in [`WinPath::parse`].
    pub fn join(&self, relative: &str) -> Result<WinPath, WinPathError> {
        if relative.is_empty() {
            return Err(WinPathError::EmptyRelative {
                base: self.to_string(),
            });
        }
        let mut chars = relative.chars();
        let first_is_sep = chars.next().is_some_and(parse::is_sep);
        // `X:` anything is a drive or drive-relative path, never relative.
        if first_is_sep || chars.next() == Some(':') {
            return Err(WinPathError::NotRelative {
                base: self.to_string(),
                relative: relative.to_string(),
            });
        }
        let shown = format!("{}{}", self.to_dir_string(), relative);
        let more = parse::parse_components(&shown, relative)?;
        let mut out = self.clone();
        out.components.extend(more);
        Ok(out)
    }

    /// Appends components given one by one. Each must be a single valid
    /// name: empty strings, `..` and names containing separators are refused;
    /// `.` is ignored.
    pub(crate) fn join_components<I, S>(&self, comps: I) -> Result<WinPath, WinPathError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let comps: Vec<S> = comps.into_iter().collect();
        let names: Vec<&str> = comps.iter().map(AsRef::as_ref).collect();
        let shown = || format!("{}{}", self.to_dir_string(), names.join("\\"));
        let mut out = self.clone();
        for &name in &names {
            match name {
                "." => continue,
                ".." => return Err(WinPathError::ParentComponent(shown())),
                // An empty item is a caller bug, not a collapsed separator.
                _ => check_name(name).map_err(|p| parse::bad_name(&shown(), name, p))?,
            }
            out.components.push(name.to_string());
        }
        Ok(out)
    }

    /// The containing folder, or `None` at the root (`C:\`, `\\server\share`).
    pub fn parent(&self) -> Option<WinPath> {
        let (_, rest) = self.components.split_last()?;
        Some(WinPath {
            prefix: self.prefix.clone(),
            components: rest.to_vec(),
        })
    }

    /// The last component, or `None` at the root.
    pub fn file_name(&self) -> Option<&str> {
        self.components.last().map(String::as_str)
    }

    /// Whether `base` is this path or one of its ancestors, compared
    /// component by component and case-insensitively (`C:\MDaemon2` does not
    /// start with `C:\MDaemon`).
    pub fn starts_with(&self, base: &WinPath) -> bool {
        self.prefix == base.prefix
            && base.components.len() <= self.components.len()
            && self
                .components
                .iter()
                .zip(&base.components)
                .all(|(a, b)| names_collide(a, b))
    }

    /// The components of `self` below `base` (original case), or `None` if
    /// `self` is not inside `base`. Empty when they are the same path.
    pub fn strip_prefix(&self, base: &WinPath) -> Option<Vec<String>> {
        if !self.starts_with(base) {
            return None;
        }
        self.components
            .get(base.components.len()..)
            .map(<[String]>::to_vec)
    }

    /// Moves `self` from inside `from` to the same place inside `to`, or
    /// `None` if `self` is not inside `from`.
    pub(crate) fn rebase(&self, from: &WinPath, to: &WinPath) -> Option<WinPath> {
        let rest = self.strip_prefix(from)?;
        let mut out = to.clone();
        // Both sides are already validated, so no re-check is needed.
        out.components.extend(rest);
        Some(out)
    }

    /// The folder form MDaemon stores, always ending in a backslash:
    /// `C:\MDaemon\LockFiles\`, `C:\`, `\\server\share\`.
    pub(crate) fn to_dir_string(&self) -> String {
        let mut s = self.to_string();
        if !s.ends_with('\\') {
            s.push('\\');
        }
        s
    }

    /// Length of the [`Display`](fmt::Display) form in UTF-16 code units,
    /// which is how Windows measures paths against MAX_PATH.
    pub(crate) fn utf16_len(&self) -> usize {
        self.to_string().encode_utf16().count()
    }

    /// Checks that the path plus `extra` more UTF-16 units (for names that
    /// will be added below it) stays under [`MAX_PATH`], i.e. is at most 259.
    pub(crate) fn check_length(&self, extra: usize) -> Result<(), WinPathError> {
        let limit = MAX_PATH - 1;
        let len = self.utf16_len().saturating_add(extra);
        if len > limit {
            return Err(WinPathError::TooLong {
                path: self.to_string(),
                len,
                limit,
            });
        }
        Ok(())
    }
}

impl PartialEq for WinPath {
    fn eq(&self, other: &Self) -> bool {
        self.components.len() == other.components.len() && self.starts_with(other)
    }
}

impl Eq for WinPath {}

impl Hash for WinPath {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.prefix.hash(state);
        state.write_usize(self.components.len());
        for c in &self.components {
            hash_folded(c, state);
        }
    }
}

impl fmt::Display for WinPath {
    /// Canonical form: backslashes, no trailing backslash except `C:\`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.prefix)?;
        if self.is_drive() && self.components.is_empty() {
            return f.write_str("\\");
        }
        for c in &self.components {
            write!(f, "\\{c}")?;
        }
        Ok(())
    }
}

impl FromStr for WinPath {
    type Err = WinPathError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        WinPath::parse(s)
    }
}

impl serde::Serialize for WinPath {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for WinPath {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        WinPath::parse(&s).map_err(serde::de::Error::custom)
    }
}

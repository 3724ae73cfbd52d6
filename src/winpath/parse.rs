//! Turning strings into [`WinPath`]s.

use super::error::WinPathError;
use super::name::{check_name, is_invalid_name_char, NameProblem};
use super::{Prefix, WinPath};

pub(crate) fn is_sep(c: char) -> bool {
    c == '\\' || c == '/'
}

/// Splits off the first char; `None` for the empty string.
fn split_first(s: &str) -> Option<(char, &str)> {
    let mut chars = s.chars();
    chars.next().map(|c| (c, chars.as_str()))
}

/// Parses an absolute drive or UNC path; `input` is kept for error messages.
pub(crate) fn parse(input: &str) -> Result<WinPath, WinPathError> {
    let Some((first, after_first)) = split_first(input) else {
        return Err(WinPathError::Empty);
    };
    let second = split_first(after_first);
    match (first, second) {
        (a, Some((b, rest))) if is_sep(a) && is_sep(b) => parse_double_sep(input, rest),
        (a, _) if is_sep(a) => Err(WinPathError::RootRelative(input.to_string())),
        // `:\x` lacks its letter: report the drive, not a relative path.
        (':', _) | (_, Some((':', _))) => parse_drive(input, input),
        _ => Err(WinPathError::Relative(input.to_string())),
    }
}

/// `rest` follows a leading `\\`: a `\\?\` or `\\.\` prefix, or a UNC path.
fn parse_double_sep(input: &str, rest: &str) -> Result<WinPath, WinPathError> {
    let marker = split_first(rest);
    let tail = match marker.and_then(|(_, r)| split_first(r)) {
        Some((sep, tail)) if is_sep(sep) => tail,
        _ => return parse_unc(input, rest),
    };
    match marker {
        Some(('.', _)) => Err(WinPathError::DevicePath(input.to_string())),
        Some(('?', _)) => parse_verbatim(input, tail),
        _ => parse_unc(input, rest),
    }
}

/// `tail` follows `\\?\`. Separators are accepted leniently as for normal
/// paths, and `.`/`..`/names get the same checks, so a verbatim spelling
/// cannot smuggle in anything the normal spelling would refuse.
fn parse_verbatim(input: &str, tail: &str) -> Result<WinPath, WinPathError> {
    if let Some((head, after)) = tail.split_at_checked(3) {
        if head.eq_ignore_ascii_case("UNC") {
            match split_first(after) {
                None => return parse_unc(input, ""),
                Some((sep, unc)) if is_sep(sep) => return parse_unc(input, unc),
                Some(_) => {}
            }
        }
    }
    match split_first(tail).and_then(|(_, r)| split_first(r)) {
        Some((':', _)) => parse_drive(input, tail),
        _ => Err(WinPathError::UnsupportedVerbatim(input.to_string())),
    }
}

/// `s` starts with `X:`; it must be `X:\` followed by components.
fn parse_drive(input: &str, s: &str) -> Result<WinPath, WinPathError> {
    let letter = match split_first(s) {
        Some((c, _)) if c.is_ascii_alphabetic() => c.to_ascii_uppercase(),
        _ => return Err(WinPathError::BadDrive(input.to_string())),
    };
    let after_colon = s.get(2..).unwrap_or("");
    let Some(rest) = after_colon.strip_prefix(is_sep) else {
        return Err(WinPathError::DriveRelative(input.to_string()));
    };
    let components = parse_components(input, rest)?;
    Ok(WinPath {
        prefix: Prefix::Drive(letter),
        components,
    })
}

/// `s` follows the `\\` (or `\\?\UNC\`): `server\share[\components]`.
///
/// Server and share must follow directly: `\\\server` or `\\server\\share`
/// are refused instead of collapsed, since Windows does not read them as
/// `\\server\share` either.
fn parse_unc(input: &str, s: &str) -> Result<WinPath, WinPathError> {
    let bad_unc = || WinPathError::BadUnc(input.to_string());
    let mut parts = s.splitn(3, is_sep);
    let server = parts.next().unwrap_or("");
    let share = parts.next().unwrap_or("");
    let rest = parts.next().unwrap_or("");
    if server.is_empty() || share.is_empty() || server == "." || server == ".." {
        return Err(bad_unc());
    }
    // Server: NetBIOS, DNS or IPv4 name. Only characters that can never be
    // part of a host name are refused; anything subtler is left to Windows.
    if let Some(c) = server.chars().find(|&c| is_invalid_name_char(c)) {
        return Err(bad_name(input, server, NameProblem::InvalidChar(c)));
    }
    match share {
        "." => return Err(bad_unc()),
        ".." => return Err(WinPathError::ParentComponent(input.to_string())),
        _ => check_name(share).map_err(|p| bad_name(input, share, p))?,
    }
    let components = parse_components(input, rest)?;
    Ok(WinPath {
        prefix: Prefix::Unc {
            server: server.to_string(),
            share: share.to_string(),
        },
        components,
    })
}

/// Splits on `\` and `/`, collapsing empty and `.` components, refusing
/// `..` and names Windows would refuse.
pub(crate) fn parse_components(input: &str, s: &str) -> Result<Vec<String>, WinPathError> {
    let mut out = Vec::new();
    for comp in s.split(is_sep) {
        match comp {
            "" | "." => continue,
            ".." => return Err(WinPathError::ParentComponent(input.to_string())),
            _ => check_name(comp).map_err(|p| bad_name(input, comp, p))?,
        }
        out.push(comp.to_string());
    }
    Ok(out)
}

pub(crate) fn bad_name(path: &str, name: &str, problem: NameProblem) -> WinPathError {
    WinPathError::BadName {
        path: path.to_string(),
        name: name.to_string(),
        problem,
    }
}

//! After the moves: other settings that still name a folder that moves.
//!
//! MDaemon keeps some folders outside `[Directories]` (a domain gateway's
//! own folder, set in its Gateway Manager, for one), in files whose format
//! the profile does not know. Left pointing at the old folder, MDaemon would
//! go on using it on this node while the data sits on the share. mdcluster
//! does not edit what it cannot parse: it finds such references in
//! MDaemon.ini as it will be and in the other settings files of MDaemon's
//! App folder, and warns, naming the file, the line and where to point it.

use super::{Context, StepPlan};
use crate::text::sanitize;
use crate::winpath::WinPath;
use std::path::Path;

/// Files larger than this are not read (MDaemon's settings files are small).
const MAX_FILE: u64 = 4 * 1024 * 1024;
/// At most this many files of the App folder are read.
const MAX_FILES: usize = 256;
/// At most this many references are listed; the count is always complete.
const LISTED: usize = 10;
/// The settings files read: by extension, without case.
const EXTENSIONS: [&str; 2] = ["dat", "ini"];

/// Warnings for every line that still names a folder of `moves` (from,
/// to): in `ini_after` (MDaemon.ini with this step's edits) and in the App
/// folder's other settings files (Userlist.dat aside: step 4 edits it).
pub(super) fn warn(
    ctx: &Context,
    moves: &[(WinPath, WinPath)],
    ini_after: &[u8],
    sp: &mut StepPlan,
) {
    let install = ctx.install;
    let ini_name = install
        .ini
        .win
        .file_name()
        .unwrap_or("MDaemon.ini")
        .to_string();
    let mut found = references(&ini_name, ini_after, moves);
    if let Some(app) = install.ini.local.parent() {
        let userlist = install
            .userlist
            .as_ref()
            .and_then(|(loc, _)| loc.win.file_name().map(str::to_string));
        let skip = [Some(ini_name.as_str()), userlist.as_deref()];
        let (files, unread) = settings_files(app, &skip);
        for (name, bytes) in files {
            found.extend(references(&name, &bytes, moves));
        }
        if unread > 0 {
            sp.notes.push(format!(
                "{unread} settings file(s) of {} were not read for names of moved folders \
                 (more than {MAX_FILES} files, or over {} MiB each)",
                app.display(),
                MAX_FILE / (1024 * 1024)
            ));
        }
    }
    if found.is_empty() {
        return;
    }
    let total = found.len();
    sp.warnings.extend(found.into_iter().take(LISTED));
    if total > LISTED {
        sp.warnings.push(format!(
            "{} more lines of MDaemon's settings name a folder that moves",
            total - LISTED
        ));
    }
    sp.next.push(
        "point the settings the warnings name at the folders on the share, in MDaemon (they are \
         not in [Directories], and mdcluster does not edit files whose format it does not know)"
            .into(),
    );
}

/// The regular files of `app` with a settings extension, by name, except
/// those named in `skip` (compared without case); bounded in number and
/// size. Also how many were left unread for those bounds.
fn settings_files(app: &Path, skip: &[Option<&str>]) -> (Vec<(String, Vec<u8>)>, usize) {
    let Ok(entries) = std::fs::read_dir(app) else {
        return (Vec::new(), 0);
    };
    let mut names: Vec<String> = entries
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| {
            let ext = n.rsplit_once('.').map(|(_, e)| e).unwrap_or("");
            EXTENSIONS.iter().any(|x| x.eq_ignore_ascii_case(ext))
                && !skip.iter().flatten().any(|s| s.eq_ignore_ascii_case(n))
        })
        .collect();
    names.sort();
    let mut unread = names.len().saturating_sub(MAX_FILES);
    let mut files = Vec::new();
    for name in names.into_iter().take(MAX_FILES) {
        let path = app.join(&name);
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if !meta.is_file() {
            continue;
        }
        match (meta.len() <= MAX_FILE).then(|| std::fs::read(&path)) {
            Some(Ok(bytes)) => files.push((name, bytes)),
            _ => unread += 1,
        }
    }
    (files, unread)
}

/// One warning per line of `bytes` that names a folder of `moves`.
fn references(file: &str, bytes: &[u8], moves: &[(WinPath, WinPath)]) -> Vec<String> {
    let text = match bytes.strip_prefix(b"\xEF\xBB\xBF") {
        Some(utf8) => String::from_utf8_lossy(utf8).into_owned(),
        None => crate::codepage::decode_windows_1252(bytes),
    };
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let folded = line.to_lowercase();
        let Some((from, to)) = moves
            .iter()
            .find(|(from, _)| names_folder(&folded, &from.to_string().to_lowercase()))
        else {
            continue;
        };
        let shown: String = line.trim().chars().take(120).collect();
        out.push(format!(
            "{} line {} still names {}: \"{}\"; MDaemon may go on using that folder on this \
             node: point it at {} in MDaemon",
            sanitize(file),
            n + 1,
            from.to_dir_string(),
            sanitize(&shown),
            to.to_dir_string()
        ));
    }
    out
}

/// Whether `line` names `folder` or something inside it (both folded): the
/// name is followed by its end, a `\` or a character no path holds there.
fn names_folder(line: &str, folder: &str) -> bool {
    line.match_indices(folder).any(|(at, _)| {
        matches!(
            line[at + folder.len()..].chars().next(),
            None | Some('\\' | '"' | '\'' | ';' | ',' | ' ' | '\t' | '|' | '>')
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn moves() -> Vec<(WinPath, WinPath)> {
        vec![(
            WinPath::parse(r"C:\MDaemon\Gateways").unwrap(),
            WinPath::parse(r"\\fs\mdaemon\Gateways").unwrap(),
        )]
    }

    #[test]
    fn a_line_naming_a_moved_folder_or_inside_it_is_found_without_case() {
        let text = b"[partner.example]\r\nMailDir=c:\\mdaemon\\GATEWAYS\\partner.example\\\r\n\
            Other=C:\\MDaemon\\GatewaysOld\\\r\nRoot=\"C:\\MDaemon\\Gateways\"\r\n";
        let found = references("Gateways.dat", text, &moves());
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].starts_with(r"Gateways.dat line 2 still names C:\MDaemon\Gateways\"));
        assert!(found[0].contains(r"point it at \\fs\mdaemon\Gateways\ in MDaemon"));
        assert!(found[1].starts_with("Gateways.dat line 4 "));
    }

    #[test]
    fn control_characters_and_long_lines_are_not_passed_on() {
        let mut text = b"X=C:\\MDaemon\\Gateways\\\x1b[31m".to_vec();
        text.extend(std::iter::repeat_n(b'a', 500));
        let found = references("a\x07.dat", &text, &moves());
        assert_eq!(found.len(), 1);
        assert!(!found[0].chars().any(|c| c.is_control()), "{found:?}");
        assert!(found[0].len() < 400);
    }

    #[test]
    fn windows_1252_and_utf8_with_a_bom_are_read() {
        let cp = b"Pfad=C:\\MDaemon\\Gateways\\S\xfcd\\\r\n";
        assert!(references("x.dat", cp, &moves())[0].contains("Süd"));
        let utf8 = "\u{feff}Pfad=C:\\MDaemon\\Gateways\\Süd\\\r\n";
        assert!(references("x.dat", utf8.as_bytes(), &moves())[0].contains("Süd"));
    }
}

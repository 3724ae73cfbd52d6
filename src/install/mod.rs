//! What is on disk: the MDaemon installation as mdcluster finds it.
//!
//! Opening an installation reads MDaemon.ini and its `[Directories]` section
//! and refuses (exit 3, nothing changed) when it cannot be trusted: a missing
//! or unreadable file, no `[Directories]`, an empty or relative folder value.

use crate::ini::{IniDoc, TextEncoding};
use crate::location::{Loc, Resolver};
use crate::plan::Plan;
use crate::problem::{Exit, Problem};
use crate::profile::Profile;
use crate::winpath::WinPath;

/// One `[Directories]` value.
#[derive(Clone, Debug)]
pub struct FolderValue {
    pub key: String,
    /// The value as written (decoded), e.g. `C:\MDaemon\LockFiles\`.
    pub raw: String,
    pub path: WinPath,
    /// 1-based line in MDaemon.ini.
    pub line: usize,
}

impl FolderValue {
    /// The value for a new folder, in the same style as this one: MDaemon ends
    /// folder values with a backslash; quotes around the value are kept.
    pub(crate) fn styled(&self, new: &WinPath) -> String {
        let (inner, quoted) = unquote(&self.raw);
        let path = if inner.ends_with('\\') || inner.ends_with('/') {
            new.to_dir_string()
        } else {
            new.to_string()
        };
        if quoted {
            format!("\"{path}\"")
        } else {
            path
        }
    }
}

/// The Windows profile API drops one pair of double quotes around a value.
fn unquote(raw: &str) -> (&str, bool) {
    let t = raw.trim();
    match t.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        Some(inner) if t.len() >= 2 => (inner, true),
        _ => (t, false),
    }
}

pub struct Installation {
    pub root: Loc,
    pub ini: Loc,
    pub ini_bytes: Vec<u8>,
    pub ini_doc: IniDoc,
    pub folders: Vec<FolderValue>,
    /// Userlist.dat and its bytes, when it can be read (accounts may also
    /// live in ODBC or LDAP, where there is none).
    pub userlist: Option<(Loc, Vec<u8>)>,
}

/// Hash used to notice a file that changed between preview and change.
pub(crate) fn content_hash(bytes: &[u8]) -> ContentHash {
    ContentHash::of(bytes)
}

pub use crate::fsops::hash::ContentHash;

impl Installation {
    pub fn open(
        plan: &Plan,
        profile: &Profile,
        resolver: &Resolver,
    ) -> Result<Installation, Problem> {
        let root = resolver.locate(&plan.install_root)?;
        let ini_win = plan.install_root.join(&profile.ini.file).map_err(|e| {
            Problem::usage(format!("the profile's ini.file does not form a path: {e}"))
        })?;
        let ini = resolver.locate(&ini_win)?;
        let ini_bytes = std::fs::read(&ini.local).map_err(|e| {
            Problem::io(Exit::Refused, "read MDaemon.ini", &ini.local, &e)
                .at(format!("{} ({})", ini.win, ini.local.display()))
                .fix(format!(
                    "check that [install] root = '{}' in the plan is the MDaemon installation folder \
                     (the one holding {}) and that this account may read it",
                    plan.install_root, *profile.ini.file
                ))
        })?;
        let ini_doc = IniDoc::parse(ini_bytes.clone());
        let section = &*profile.ini.directories_section;
        let where_ = || format!("{} ({})", ini.win, ini.local.display());
        if !ini_doc.has_section(section) {
            return Err(Problem::refused(format!("MDaemon.ini has no [{section}] section"))
                .at(where_())
                .fix("this does not look like the MDaemon.ini of an MDaemon 20 or later installation; \
                      point [install] root at the right folder, or open MDaemon once so it writes its settings"));
        }
        let mut folders = Vec::new();
        for entry in ini_doc.entries(section) {
            let key = decode(&ini_doc, &entry.key);
            let raw = decode(&ini_doc, &entry.value);
            let at = format!("{}, line {} ({})", ini.win, entry.line, ini.local.display());
            if unquote(&raw).0.is_empty() {
                return Err(Problem::refused(format!("[{section}] {key} in MDaemon.ini is empty"))
                    .at(at)
                    .fix(format!("set {key} to the folder MDaemon uses (an absolute path such as C:\\MDaemon\\...\\) in MDaemon's settings, then rerun")));
            }
            let path = WinPath::parse(unquote(&raw).0).map_err(|e| {
                Problem::refused(format!("[{section}] {key} in MDaemon.ini is not an absolute folder path: {e}"))
                    .at(at.clone())
                    .fix("mdcluster only rewrites absolute folder paths; set the value to the full path MDaemon uses, then rerun")
            })?;
            folders.push(FolderValue {
                key,
                raw,
                path,
                line: entry.line,
            });
        }
        let userlist = plan
            .install_root
            .join(&profile.userlist.file)
            .ok()
            .and_then(|w| resolver.locate(&w).ok())
            .and_then(|loc| std::fs::read(&loc.local).ok().map(|b| (loc, b)));
        Ok(Installation {
            root,
            ini,
            ini_bytes,
            ini_doc,
            folders,
            userlist,
        })
    }

    /// The first `[Directories]` value with this key (case-insensitive, as Windows reads it).
    pub fn folder(&self, key: &str) -> Option<&FolderValue> {
        self.folders
            .iter()
            .find(|f| f.key.eq_ignore_ascii_case(key))
    }

    /// A required `[Directories]` value, or a refusal that says how to fix it.
    pub(crate) fn required_folder(
        &self,
        key: &str,
        section: &str,
    ) -> Result<&FolderValue, Problem> {
        self.folder(key).ok_or_else(|| {
            Problem::refused(format!("MDaemon.ini [{section}] has no {key} entry"))
                .at(format!("{} ({})", self.ini.win, self.ini.local.display()))
                .fix(format!(
                    "mdcluster does not guess where MDaemon keeps {key}; add a line such as \
                     {key}=C:\\MDaemon\\{key}\\ naming the folder MDaemon uses, then rerun"
                ))
        })
    }

    pub(crate) fn ini_hash(&self) -> ContentHash {
        content_hash(&self.ini_bytes)
    }
}

/// Decode INI bytes for display and path parsing: UTF-8 when the file has a
/// BOM, otherwise Windows-1252 (which maps every byte).
pub fn decode(doc: &IniDoc, bytes: &[u8]) -> String {
    match doc.encoding() {
        TextEncoding::Utf8Bom => String::from_utf8_lossy(bytes).into_owned(),
        TextEncoding::Windows1252 => encoding_rs::WINDOWS_1252
            .decode_without_bom_handling(bytes)
            .0
            .into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(raw: &str) -> FolderValue {
        FolderValue {
            key: "K".into(),
            raw: raw.into(),
            path: WinPath::parse(unquote(raw).0).unwrap(),
            line: 1,
        }
    }

    #[test]
    fn new_values_keep_the_style_of_the_old_one() {
        let new = WinPath::parse(r"\\fs\share\LockFiles").unwrap();
        assert_eq!(
            value(r"C:\MDaemon\LockFiles\").styled(&new),
            r"\\fs\share\LockFiles\"
        );
        assert_eq!(
            value(r"C:\MDaemon\LockFiles").styled(&new),
            r"\\fs\share\LockFiles"
        );
        assert_eq!(
            value(r#""C:\MDaemon\Lock Files\""#).styled(&new),
            r#""\\fs\share\LockFiles\""#
        );
        assert_eq!(unquote(r#""""#), ("", true));
        assert_eq!(unquote(r#"""#), (r#"""#, false));
    }
}

//! Errors for parsing and building Windows paths.

use std::fmt;

use super::name::NameProblem;

/// Why a string is not an absolute Windows path mdcluster accepts, or why a
/// path operation was refused. Every message names the path and says what
/// is expected instead.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum WinPathError {
    /// The input string is empty.
    #[error(
        "the path is empty; give an absolute path such as C:\\MDaemon\\App or \\\\server\\share\\folder"
    )]
    Empty,

    /// No drive and no leading backslash, like `MDaemon\App`.
    #[error(
        "'{}' is a relative path; give an absolute path such as C:\\MDaemon\\App or \\\\server\\share\\folder",
        Shown(.0)
    )]
    Relative(String),

    /// A drive without a backslash after the colon, like `C:` or `C:foo`.
    #[error(
        "'{}' is relative to the current folder of its drive because no backslash follows the colon; give a full path such as C:\\MDaemon\\App",
        Shown(.0)
    )]
    DriveRelative(String),

    /// A single leading backslash without a drive, like `\MDaemon`.
    #[error(
        "'{}' starts at the root of whichever drive happens to be current; give the drive letter too, such as C:\\MDaemon\\App, or a UNC path such as \\\\server\\share\\folder",
        Shown(.0)
    )]
    RootRelative(String),

    /// Something other than a letter A-Z before the drive colon, like `1:\x`.
    #[error(
        "'{}' does not start with a drive letter A-Z before the colon; give a path such as C:\\MDaemon\\App",
        Shown(.0)
    )]
    BadDrive(String),

    /// A UNC path whose server or share is missing or empty.
    #[error(
        "'{}' is not a complete UNC path; give both a server and a share name, such as \\\\server\\share\\folder",
        Shown(.0)
    )]
    BadUnc(String),

    /// A Win32 device path such as `\\.\COM1` or `\\.\C:\x`.
    #[error(
        "'{}' is a Windows device path (\\\\.\\...), not a file or folder path; give a drive path such as C:\\MDaemon or a UNC path such as \\\\server\\share\\folder",
        Shown(.0)
    )]
    DevicePath(String),

    /// A `\\?\` path that is neither `\\?\C:\...` nor `\\?\UNC\server\share\...`.
    #[error(
        "'{}' is a \\\\?\\ path of a kind mdcluster does not handle; give \\\\?\\C:\\folder, \\\\?\\UNC\\server\\share\\folder, or simply C:\\folder or \\\\server\\share\\folder",
        Shown(.0)
    )]
    UnsupportedVerbatim(String),

    /// A `..` component. Never resolved, so no path can leave its folder.
    #[error(
        "'{}' contains a '..' component; mdcluster never resolves '..' so that a path cannot leave its folder; write the full path without '..'",
        Shown(.0)
    )]
    ParentComponent(String),

    /// A component (or UNC server/share) that Windows would refuse.
    #[error(
        "'{}' contains the name '{}', which {problem}; use a valid Windows file or folder name",
        Shown(.path),
        Shown(.name)
    )]
    BadName {
        /// The whole path as given (for joins: base plus what was joined).
        path: String,
        /// The offending component, as given.
        name: String,
        /// What is wrong with it.
        problem: NameProblem,
    },

    /// The path (plus room requested by the caller) does not fit in MAX_PATH.
    #[error(
        "'{}' is too long for Windows: it needs {len} UTF-16 code units (including any names to be added below it) but at most {limit} fit, because MAX_PATH is 260 including the terminating NUL; choose a shorter folder",
        Shown(.path)
    )]
    TooLong {
        /// The path in its canonical form.
        path: String,
        /// UTF-16 length of the path plus the extra room asked for.
        len: usize,
        /// Largest allowed length (`MAX_PATH - 1`).
        limit: usize,
    },

    /// `join` was given an absolute, root-relative or drive-relative path.
    #[error(
        "cannot join '{}' onto '{}' because it is not a relative path; give a path relative to that folder, such as Users\\example.com",
        Shown(.relative),
        Shown(.base)
    )]
    NotRelative {
        /// The folder being joined onto.
        base: String,
        /// What was given to join.
        relative: String,
    },

    /// `join` was given an empty string, usually a missing setting.
    #[error(
        "cannot join an empty path onto '{}'; give a path relative to that folder, such as Users\\example.com",
        Shown(.base)
    )]
    EmptyRelative {
        /// The folder being joined onto.
        base: String,
    },
}

/// Shows user input inside a message with control characters made visible,
/// so a stray newline or escape sequence cannot garble the terminal.
struct Shown<'a>(&'a str);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            if c.is_control() {
                write!(f, "<U+{:04X}>", u32::from(c))?;
            } else {
                fmt::Write::write_char(f, c)?;
            }
        }
        Ok(())
    }
}

//! Each workflow once: settings in, typed events out. The command line
//! (text and `--json`), the full-screen wizard, the plain wizard and the
//! demo run these and only render what they report.

pub mod discover;
pub mod join;
pub mod start;
pub mod verify;

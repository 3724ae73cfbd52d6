//! The few questions only the operating system answers, one function each,
//! with the platform calls behind `cfg` here and nowhere else.

mod clock;
mod host;
mod process;

pub use clock::Clock;
pub use host::{hostname, now_rfc3339};
pub use process::process_alive;

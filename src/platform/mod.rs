//! The few questions only the operating system answers, one function each,
//! with the platform calls behind `cfg` here and nowhere else.

mod process;

pub use process::process_alive;

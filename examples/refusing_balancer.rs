//! A stand-in for a balancer's own configuration check that refuses every
//! file, as `haproxy -c -f FILE` does on an unknown keyword. Test
//! infrastructure: the tests copy it as `haproxy` (`haproxy.exe` on Windows)
//! onto PATH, so that a refusal does not depend on a broken generator, and
//! the same helper serves Linux and Windows (no shell script).
#![forbid(unsafe_code)]

fn main() {
    // The configuration file follows `-f`.
    let args: Vec<String> = std::env::args().collect();
    let file = args
        .iter()
        .position(|a| a == "-f")
        .and_then(|i| args.get(i + 1))
        .map_or("?", String::as_str);
    println!("[ALERT] config : parsing [{file}:42] : unknown keyword 'frobnicate'");
    std::process::exit(1);
}

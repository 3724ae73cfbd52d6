//! The crate's layers, enforced: a module may use only modules of lower
//! layers, so there are no cycles, and the leaf libraries (Windows paths,
//! INI and Userlist editing, the mover, the cluster-log reader) cannot reach
//! the core. ARCHITECTURE.md describes the same table.
//!
//! A new top-level module must be placed in [`LAYERS`]; a forbidden `use`
//! fails with the file and line that makes it.

use std::collections::BTreeMap;
use std::path::Path;

/// Lowest first. A module may refer to modules of earlier layers only, never
/// to one of its own layer or a later one.
const LAYERS: &[(&str, &[&str])] = &[
    (
        "foundation",
        &[
            "problem",
            "platform",
            "test_hooks",
            "codepage",
            "winpath",
            "text",
        ],
    ),
    ("formats and files", &["profile", "ini", "fsops"]),
    (
        "readers",
        &["userlist", "clusterlog", "location", "service"],
    ),
    ("plan", &["plan"]),
    ("domain", &["lb", "install", "cluster"]),
    ("network", &["discovery", "health"]),
    ("steps", &["steps"]),
    ("engine", &["engine"]),
    ("workflows", &["workflows"]),
    ("previews", &["report"]),
    ("sandbox", &["sandbox"]),
    ("simulation", &["simulation"]),
    ("output", &["output"]),
    ("wizard", &["wizard"]),
    ("command line", &["cli"]),
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS
        .iter()
        .position(|(_, modules)| modules.contains(&module))
}

/// The production part of a source file: the inline `mod tests { … }` at its
/// end and whole-line comments (doc links name other modules freely) left
/// out.
fn production_code(text: &str) -> String {
    let text = without_test_module(text);
    text.lines()
        .map(|l| {
            if l.trim_start().starts_with("//") {
                ""
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The text without its `#[cfg(test)] mod tests { … }` block (wherever it
/// is: code after it is still checked). Braces inside string literals (raw
/// ones too), character literals and comments do not count; a block that
/// never closes fails the test rather than hide what follows.
fn without_test_module(text: &str) -> String {
    let Some(start) = text.find("#[cfg(test)]\nmod tests {") else {
        return text.to_string();
    };
    let b = text.as_bytes();
    let mut i = start + text[start..].find('{').unwrap_or(0);
    let mut depth = 0usize;
    while i < b.len() {
        match b[i] {
            // A raw string: r"…", r#"…"#, br##"…"##.
            b'r' if (i == 0 || !b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'b')
                && matches!(b.get(i + 1), Some(b'"' | b'#')) =>
            {
                let hashes = b[i + 1..].iter().take_while(|c| **c == b'#').count();
                if b.get(i + 1 + hashes) == Some(&b'"') {
                    let close: Vec<u8> = std::iter::once(b'"')
                        .chain(std::iter::repeat_n(b'#', hashes))
                        .collect();
                    let from = i + 2 + hashes;
                    i = b[from..]
                        .windows(close.len())
                        .position(|w| w == close.as_slice())
                        .map_or(b.len(), |p| from + p + close.len() - 1);
                }
            }
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'\'' if b.get(i + 2) == Some(&b'\'') => i += 2,
            b'\'' if b.get(i + 1) == Some(&b'\\') => {
                i += 2;
                while i < b.len() && b[i] != b'\'' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i = text[i + 2..].find("*/").map_or(b.len(), |p| i + 2 + p + 1);
            }
            b'{' => depth += 1,
            b'}' => {
                depth -= 1;
                if depth == 0 {
                    return format!("{}{}", &text[..start], &text[i + 1..]);
                }
            }
            _ => {}
        }
        i += 1;
    }
    panic!("the test module starting at byte {start} never closes (as this scanner reads it)");
}

/// The top-level modules a source text refers to through `crate::`, with the
/// line of each reference: `crate::x::…`, `$crate::x` in macros, and every
/// first name of `use crate::{x, y::z, …}`.
fn references(code: &str, depth: usize) -> Vec<(String, usize)> {
    let mut found = Vec::new();
    // `super::` chains that climb to the crate root (from a file `depth`
    // modules deep) name a top-level module too.
    for (at, _) in code.match_indices("super::") {
        if code[..at].ends_with("super::") || code[..at].ends_with("::") {
            continue; // inside a chain: counted from its first `super::`
        }
        let mut rest = &code[at..];
        let mut k = 0;
        while let Some(r) = rest.strip_prefix("super::") {
            rest = r;
            k += 1;
        }
        if k >= depth {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            let line = code[..at].matches('\n').count() + 1;
            found.push((name, line));
        }
    }
    for (at, _) in code.match_indices("crate::") {
        let before = code[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue; // `mdcluster::` or another name ending in "crate"
        }
        let line = code[..at].matches('\n').count() + 1;
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0usize;
            let mut item_start = true;
            let mut name = String::new();
            for ch in group.chars() {
                match ch {
                    '{' => {
                        depth += 1;
                        item_start = false;
                    }
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if item_start && (c.is_alphanumeric() || c == '_') => name.push(c),
                    c if c.is_whitespace() && name.is_empty() => {}
                    _ => {
                        if !name.is_empty() {
                            found.push((std::mem::take(&mut name), line));
                        }
                        item_start = false;
                    }
                }
            }
            if !name.is_empty() {
                found.push((name, line));
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                found.push((name, line));
            }
        }
    }
    found
}

/// Every reference from `module` (source `text`, file `file`) to a module
/// that is not in a lower layer, described for the failure message.
fn violations(module: &str, file: &str, text: &str, known: &[String]) -> Vec<String> {
    // How many modules deep the file is: `src/x.rs` and `src/x/mod.rs` 1,
    // `src/x/y.rs` 2, and so on.
    let parts: Vec<&str> = file.split(['/', '\\']).filter(|p| *p != "src").collect();
    let depth = parts.len() - usize::from(parts.last() == Some(&"mod.rs"));
    let Some(own) = layer_of(module) else {
        return vec![format!(
            "{file}: module `{module}` is in no layer: add it to LAYERS in tests/layers.rs (and ARCHITECTURE.md)"
        )];
    };
    let mut out = Vec::new();
    for (target, line) in references(&production_code(text), depth.max(1)) {
        if target == module || !known.contains(&target) {
            continue; // itself, or an item of the crate root (a macro, `self`)
        }
        match layer_of(&target) {
            Some(l) if l < own => {}
            Some(l) => out.push(format!(
                "{file}:{line}: `{module}` ({}) uses `{target}` ({}), a layer that is not below it",
                LAYERS[own].0, LAYERS[l].0
            )),
            None => out.push(format!(
                "{file}:{line}: `{target}` is in no layer: add it to LAYERS in tests/layers.rs"
            )),
        }
    }
    out
}

#[test]
fn no_module_uses_a_module_of_its_own_or_a_higher_layer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for entry in walkdir::WalkDir::new(&src) {
        let entry = entry.unwrap();
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let rel = path.strip_prefix(&src).unwrap();
        let parts: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        // Test modules in their own files may use anything.
        if parts.iter().any(|p| p == "tests" || p == "tests.rs") {
            continue;
        }
        let top = parts[0].trim_end_matches(".rs").to_string();
        if top == "lib" || top == "main" {
            continue;
        }
        let text = std::fs::read_to_string(path).unwrap().replace("\r\n", "\n");
        files
            .entry(top)
            .or_default()
            .push((rel.display().to_string(), text));
    }
    let known: Vec<String> = files.keys().cloned().collect();
    for (_, modules) in LAYERS {
        for m in *modules {
            assert!(
                known.iter().any(|k| k == m),
                "LAYERS names `{m}`, which is no module of src/ any more: remove it"
            );
        }
    }
    let mut problems = Vec::new();
    for (module, sources) in &files {
        for (file, text) in sources {
            problems.extend(violations(module, file, text, &known));
        }
    }
    problems.dedup();
    assert!(
        problems.is_empty(),
        "imports against the layers (move the shared piece down, or pass it in):\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_check_finds_what_it_must() {
    let known: Vec<String> = ["engine", "steps", "ini", "fsops", "text", "cli"]
        .map(String::from)
        .to_vec();
    // Upward references, in every form the crate writes them.
    for upward in [
        "use crate::engine::Preview;\n",
        "fn f() { crate::engine::run(); }\n",
        "use crate::{text::size, engine::Summary};\n",
        "use crate::{\n    fsops,\n    steps::{Action, StepId},\n};\n",
        "macro_rules! m { () => { $crate::cli::x() }; }\n",
    ] {
        assert!(
            !violations("ini", "src/ini/mod.rs", upward, &known).is_empty(),
            "not caught: {upward}"
        );
    }
    // `super::` that climbs to the crate root, from any depth.
    assert_eq!(
        violations(
            "ini",
            "src/ini/mod.rs",
            "use super::engine::Preview;\n",
            &known
        )
        .len(),
        1
    );
    assert_eq!(
        violations(
            "ini",
            "src/ini/parse.rs",
            "fn f() { super::super::engine::run(); }\n",
            &known
        )
        .len(),
        1
    );
    assert!(violations("ini", "src/ini/parse.rs", "use super::IniDoc;\n", &known).is_empty());
    // Raw strings, block comments and char literals with braces or quotes
    // inside a test module do not end it early.
    let tricky = "#[cfg(test)]\nmod tests {\n    const A: &[u8] = br#\"{\"seq\":3,\"x\"#;\n    /* } */ const B: char = '}';\n    const C: &str = r\"\\\";\n}\nuse crate::engine::Preview;\n";
    assert_eq!(violations("ini", "src/ini/mod.rs", tricky, &known).len(), 1);
    // Code after the test module is still checked.
    let after = "#[cfg(test)]\nmod tests {\n    fn t() { let s = \"}\"; }\n}\nuse crate::engine::Preview;\n";
    assert_eq!(violations("ini", "src/ini/mod.rs", after, &known).len(), 1);
    // Same layer is refused too (that is how cycles are ruled out).
    assert_eq!(
        violations(
            "ini",
            "src/ini/mod.rs",
            "use crate::fsops::atomic;\n",
            &known
        )
        .len(),
        1
    );
    // Downward references, comments and the test module pass.
    let fine =
        "//! See [`crate::engine`].\nuse crate::text::sanitize;\nuse crate::{codepage, text};\n\
                #[cfg(test)]\nmod tests {\n    use crate::engine::Engine;\n}\n";
    assert!(violations("fsops", "src/fsops/x.rs", fine, &known).is_empty());
    // A module outside the table is reported, not passed.
    assert_eq!(
        violations("newthing", "src/newthing.rs", "", &known).len(),
        1
    );
}

/// The full-screen wizard is the Elm architecture: its model, `update` and
/// `view` never touch the disk or the network (a share that does not answer
/// would freeze the screen); all of that runs as commands on threads and
/// comes back as messages (`src/wizard/runtime.rs`). What these files may
/// not call, and why.
/// Every file of `src/wizard` is the model, `update` or `view`, except
/// these: the executor of commands, the plain prompts, the entry point, and
/// the answers' defaults read before the wizard starts.
const WIZARD_NOT_PURE: &[&str] = &["runtime.rs", "plain.rs", "mod.rs", "answers/from_disk.rs"];
const DISK_OR_NETWORK: &[(&str, &str)] = &[
    ("std::fs", "the file system"),
    ("fs::", "the file system"),
    ("fsops::", "mdcluster's file operations"),
    (".exists()", "a look at the disk"),
    (".is_dir()", "a look at the disk"),
    (".is_file()", "a look at the disk"),
    ("metadata(", "a look at the disk"),
    ("read_dir(", "a look at the disk"),
    ("canonicalize(", "a look at the disk"),
    ("Resolver", "locating a Windows path on this machine's disk"),
    ("::load(", "reading a file"),
    ("parse_checked(", "a plan checked against the disk"),
    ("journal::read", "reading the journal"),
    ("EarlierRun::read", "reading the journal"),
    ("from_disk(", "answers read from the disk"),
    ("::fresh(", "answers read from the disk"),
    ("check_on_disk(", "a look at the disk"),
    ("describe_now(", "an action described by asking the disk"),
    ("same_filesystem(", "a look at the disk"),
    ("current_dir(", "the process's folder"),
    ("hostname(", "reading the host name"),
    ("to_socket_addrs", "name resolution (the network)"),
    ("TcpStream", "the network"),
    ("UdpSocket", "the network"),
    ("std::process", "other processes"),
    ("try_exists", "a look at the disk"),
    // Library calls known to reach the disk or the network.
    ("Engine::open", "the engine reads the installation"),
    ("ManifestLock", "the manifest lock on the share"),
    ("Manifest::", "the cluster manifest on the share"),
    ("code_to_show", "the join code in the state folder"),
    ("facts::collect", "this node's facts"),
    ("Survey::", "listening on the network"),
    ("Browser::", "listening on the network"),
    ("Announcer", "announcing on the network"),
    ("confirm_registered", "the manifest on the share"),
    ("scan_once", "reading the cluster log"),
    ("Watch::new", "reading the cluster log"),
    (".manual(", "resolving a host name"),
    ("runtime::", "the executor of commands"),
    ("plain::", "the prompts"),
];

fn disk_or_network_calls(file: &str, text: &str) -> Vec<String> {
    let code = production_code(text);
    let mut found = Vec::new();
    for (n, line) in code.lines().enumerate() {
        for (token, what) in DISK_OR_NETWORK {
            if line.contains(token) {
                found.push(format!("{file}:{}: `{token}`: {what}", n + 1));
            }
        }
    }
    found
}

#[test]
fn the_wizards_model_update_and_view_never_touch_the_disk_or_the_network() {
    let wizard = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/wizard");
    let mut found = Vec::new();
    let mut checked = 0;
    for entry in walkdir::WalkDir::new(&wizard) {
        let entry = entry.unwrap();
        let rel = entry.path().strip_prefix(&wizard).unwrap();
        let rel = rel.to_string_lossy().replace('\\', "/");
        if !rel.ends_with(".rs") || WIZARD_NOT_PURE.contains(&rel.as_str()) {
            continue;
        }
        let text = std::fs::read_to_string(entry.path())
            .unwrap()
            .replace("\r\n", "\n");
        found.extend(disk_or_network_calls(&format!("src/wizard/{rel}"), &text));
        checked += 1;
    }
    // app, view, keys, nodes, answers and the screens at least.
    assert!(checked >= 10, "only {checked} files checked");
    assert!(
        found.is_empty(),
        "the wizard's update/view reach the disk or network (make it a Cmd in runtime.rs):\n{}",
        found.join("\n")
    );
    // The check itself finds what it must.
    let bad =
        "fn f() { if std::path::Path::new(\"x\").is_dir() {} }\nfn g() { Plan::load(p, q); }\n";
    assert_eq!(disk_or_network_calls("x.rs", bad).len(), 2);
}

/// No production function is longer than this many lines (signature to
/// closing brace), so each reads at once; split one that grows.
const LONGEST_FUNCTION: usize = 100;

#[test]
fn no_production_function_is_over_100_lines() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut long = Vec::new();
    for entry in walkdir::WalkDir::new(&src) {
        let entry = entry.unwrap();
        let path = entry.path();
        let is_test = path.file_name().is_some_and(|n| n == "tests.rs")
            || path.components().any(|c| c.as_os_str() == "tests");
        if path.extension().is_none_or(|e| e != "rs") || is_test {
            continue;
        }
        // A checkout with Windows line ends reads as one with `\n`.
        let text = std::fs::read_to_string(path).unwrap().replace("\r\n", "\n");
        let text = production_code(&text);
        long.extend(
            long_functions(&text)
                .into_iter()
                .map(|(line, name, n)| format!("{}:{line} {name}: {n} lines", path.display())),
        );
    }
    assert!(
        long.is_empty(),
        "split these into functions of at most {LONGEST_FUNCTION} lines:\n{}",
        long.join("\n")
    );
}

/// (line, name, length) of each function longer than [`LONGEST_FUNCTION`]:
/// from its `fn` line to the `}` at the same indentation (rustfmt's layout),
/// whatever qualifiers the `fn` has.
fn long_functions(text: &str) -> Vec<(usize, String, usize)> {
    let text = text.replace("\r\n", "\n");
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        let body = l.trim_start();
        let indent = &l[..l.len() - body.len()];
        let mut rest = body;
        // Visibility and qualifiers, in any of the orders Rust allows.
        loop {
            let before = rest;
            if let Some(r) = rest.strip_prefix("pub(") {
                rest = r.split_once(") ").map_or(r, |(_, after)| after);
            }
            for q in [
                "pub ",
                "const ",
                "async ",
                "unsafe ",
                "extern \"C\" ",
                "default ",
            ] {
                rest = rest.strip_prefix(q).unwrap_or(rest);
            }
            if rest == before {
                break;
            }
        }
        let Some(rest) = rest.strip_prefix("fn ") else {
            continue;
        };
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let line = l.trim_end();
        // A declaration without a body (a trait's), or a body on one line.
        if line.ends_with(';') || (line.contains('{') && line.ends_with('}')) {
            continue;
        }
        let close = format!("{indent}}}");
        let closes = |x: &&str| {
            let x = x.trim_end();
            x == close || x.starts_with(&format!("{close} //"))
        };
        if let Some(end) = lines[i..].iter().position(closes) {
            if end + 1 > LONGEST_FUNCTION {
                out.push((i + 1, name, end + 1));
            }
        }
    }
    out
}

#[test]
fn the_length_check_sees_a_long_function() {
    let body = "    let x = 1;\n".repeat(LONGEST_FUNCTION);
    let text = format!("fn short() {{\n}}\n\nfn long() {{\n{body}}}\n");
    assert_eq!(
        long_functions(&text),
        [(4, "long".to_string(), LONGEST_FUNCTION + 2)]
    );
    // Qualified, in an impl, with Windows line ends; one-line and bodiless
    // functions around it do not confuse it.
    let inner = "        let x = 1;\r\n".repeat(LONGEST_FUNCTION);
    let text = format!(
        "impl X {{\r\n    fn one() {{}}\r\n    fn decl();\r\n    pub(in crate::a) const unsafe fn long() {{\r\n{inner}    }} // end\r\n}}\r\n"
    );
    assert_eq!(
        long_functions(&text),
        [(4, "long".to_string(), LONGEST_FUNCTION + 2)]
    );
}

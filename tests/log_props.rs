//! Property tests (issue 8's fuzzing) for the cluster log reader: the line
//! parser and matcher on any text, and the follower on any bytes written in
//! any pieces. Runs proptest's default 256 cases; `PROPTEST_CASES` for more.

use mdcluster::clusterlog::parse::decode;
use mdcluster::clusterlog::{Follower, Reader, MAX_LINE};
use mdcluster::profile::Profile;
use proptest::prelude::*;
use std::io::Write;

/// Log-ish bytes: line formats' pieces, CR/LF, invalid UTF-8, escapes.
fn log_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        3 => "[ -~]{0,40}".prop_map(String::into_bytes),
        1 => Just(b"Sun 2026-11-22 10:15:02.117: 17: Cluster service: connected to MAIL2 (server ID 2)".to_vec()),
        1 => Just(b"261122 101503204 E [1002FA89] 0x415041A1 Cluster service: replication to MAIL2 failed: x".to_vec()),
        1 => Just(b"\r\n".to_vec()),
        2 => Just(b"\n".to_vec()),
        1 => prop::collection::vec(0x80u8..=0xFF, 1..6),
        1 => Just(b"\x1b[2J\x1b]52;c;aGk=\x07\0".to_vec()),
        1 => Just(b"\xEF\xBB\xBF".to_vec()),
    ];
    prop::collection::vec(piece, 0..max).prop_map(|v| v.concat())
}

proptest! {
    /// Any text: an event (kept, never dropped), and a match only for a node
    /// name without control characters.
    #[test]
    fn any_line_is_an_event_and_matches_are_clean(bytes in log_bytes(12)) {
        let reader = Reader::new(&Profile::builtin()).unwrap();
        let text = decode(&bytes, false);
        let event = reader.parser.parse(&text);
        prop_assert_eq!(&event.raw, &text);
        if let Some(m) = reader.matcher.find(&event.text) {
            prop_assert!(!m.node.is_empty());
            prop_assert!(!m.node.chars().any(char::is_control), "{:?}", m.node);
        }
    }

    /// Any bytes, written in any pieces while the follower polls: exactly the
    /// complete non-blank lines come out, in order, each as decoded, none
    /// longer than the bound.
    #[test]
    fn the_follower_hands_on_exactly_the_complete_lines(
        bytes in log_bytes(60),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let logs = tmp.path().join("Logs");
        std::fs::create_dir(&logs).unwrap();
        let file = logs.join("MDaemon-2026-11-22-Cluster.log");
        let mut f = std::fs::File::create(&file).unwrap();
        let profile = Profile::builtin();
        let mut follower = Follower::in_dir(&logs, &profile);
        let mut got = Vec::new();
        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(bytes.len() + 1)).collect();
        points.push(bytes.len());
        points.sort_unstable();
        let mut at = 0;
        for p in points {
            f.write_all(&bytes[at..p]).unwrap();
            f.flush().unwrap();
            at = p;
            while follower.poll(1 << 20, &mut |l| got.push(l.text)) {}
        }
        let want: Vec<String> = bytes
            .split(|b| *b == b'\n')
            .rev()
            .skip(1) // the piece after the last newline is not a line yet
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .filter(|piece| piece.len() <= MAX_LINE)
            .map(|piece| decode(piece, false))
            .filter(|t| !t.trim().is_empty())
            .collect();
        prop_assert_eq!(got, want);
    }
}

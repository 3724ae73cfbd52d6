//! Property tests (the fuzzing of issue 8, proptest-based) for the parsers of
//! outside input that ini_props.rs and userlist_props.rs do not cover: the
//! plan file and the mDNS announcement (TXT properties from the network).
//!
//! Runs proptest's default 256 cases per property; set `PROPTEST_CASES` for a
//! longer soak (docs/testing.md).

use mdcluster::cluster::facts::{Facts, ShareCheck};
use mdcluster::cluster::pairing::{Announcement, JoinCode, Untrusted};
use mdcluster::plan::Plan;
use mdcluster::profile::Profile;
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;

const VALID_PLAN: &str = r#"version = 1
[install]
root = 'C:\MDaemon'
[shared]
path = '\\fileserver\mdaemon'
[[nodes]]
name = "MAIL1"
address = "192.0.2.11"
role = "primary"
server_id = 1
[[nodes]]
name = "MAIL2"
address = "192.0.2.12"
role = "secondary"
[load_balancer]
kind = "haproxy"
http_mode = "balanced"
[load_balancer.ports]
http = 8080
[options]
restart = true
"#;

/// Any text, weighted towards what TOML and the plan's checks care about.
fn plan_noise(max: usize) -> impl Strategy<Value = String> {
    let ch = prop_oneof![
        6 => proptest::char::range(' ', '~'),
        1 => Just('\n'),
        1 => Just('\r'),
        1 => Just('\\'),
        1 => Just('\''),
        1 => Just('"'),
        1 => Just('['),
        1 => Just('='),
        1 => Just('\0'),
        1 => Just('\u{1b}'),
        1 => proptest::char::range('\u{80}', '\u{10ffff}'),
    ];
    prop::collection::vec(ch, 0..max).prop_map(|v| v.into_iter().collect())
}

/// Every error points into the text (or just past its end).
fn positions_are_in_the_text(text: &str, result: &Result<Plan, Vec<mdcluster::plan::PlanError>>) {
    if let Err(errors) = result {
        assert!(!errors.is_empty(), "an Err without errors");
        let lines = text.split('\n').count() + 1;
        for e in errors {
            assert!(
                e.line >= 1 && e.line <= lines,
                "line {} of {lines}: {e:?}",
                e.line
            );
            assert!(e.column >= 1, "{e:?}");
            assert!(!e.message.is_empty());
        }
    }
}

proptest! {
    /// Random text never panics the plan parser; errors carry positions.
    #[test]
    fn any_text_is_a_plan_or_errors_with_positions(text in plan_noise(400)) {
        let r = Plan::parse(&text, Path::new("fuzz.toml"), &Profile::builtin());
        positions_are_in_the_text(&text, &r);
    }

    /// A valid plan cut, spliced with noise or with a line repeated: never a
    /// panic; what still parses renders to a plan that parses the same.
    #[test]
    fn a_damaged_plan_is_refused_or_still_means_one_thing(
        cut in 0usize..VALID_PLAN.len(),
        len in 0usize..40,
        noise in plan_noise(30),
        repeat in 0usize..20,
    ) {
        let profile = Profile::builtin();
        let mut text: String = VALID_PLAN.chars().take(cut).collect();
        text.push_str(&noise);
        text.extend(VALID_PLAN.chars().skip(cut + len));
        if let Some(line) = VALID_PLAN.lines().nth(repeat) {
            text.push('\n');
            text.push_str(line);
            text.push('\n');
        }
        let r = Plan::parse(&text, Path::new("fuzz.toml"), &profile);
        positions_are_in_the_text(&text, &r);
        if let Ok(plan) = r {
            let again = Plan::parse(&plan.render(&profile), Path::new("fuzz.toml"), &profile);
            match again {
                Ok(back) => prop_assert_eq!(back, plan),
                Err(e) => prop_assert!(false, "the rendered plan does not parse: {:?}", e),
            }
        }
    }
}

fn facts() -> Facts {
    Facts {
        name: "MAIL2".into(),
        addresses: vec!["192.0.2.12".parse().unwrap()],
        version: Some("25.0.2".into()),
        time_zone: "W. Europe Standard Time".into(),
        licence: Some("0123456789abcdef".into()),
        certificates: Some(vec!["00112233aabbccdd".into()]),
        certificates_in_use: vec!["00112233aabbccdd".into()],
        attachment_linking: Some(false),
        auto_update: Some(false),
        domain_ip_binding: Some(false),
        letsencrypt: Some(false),
        share: ShareCheck {
            writable: Some(true),
            identity: "CORP\\mdaemon-svc".into(),
            clock_offset_ms: Some(12),
            service_account: Some("CORP\\mdaemon-svc".into()),
        },
    }
}

const KEYS: [&str; 18] = [
    "fmt", "name", "ip", "ver", "tz", "lic", "crt", "use", "al", "au", "bind", "le", "sw", "sid",
    "svc", "clk", "t", "sig",
];

/// Text from the network: anything, control characters and long runs included.
fn wire_text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => plan_noise(80),
        1 => Just("?".to_string()),
        1 => Just("1".to_string()),
        1 => "[0-9a-f]{64}",
        1 => "[ -~]{200,400}",
        1 => Just("\u{1b}[2J\u{1b}]52;c;aGk=\u{7}".to_string()),
    ]
}

proptest! {
    /// Random TXT properties never panic the parser, and whatever it accepts
    /// holds no control character anywhere it could be shown.
    #[test]
    fn any_txt_properties_are_refused_or_clean(
        props in prop::collection::btree_map(
            prop_oneof![4 => prop::sample::select(KEYS.to_vec()).prop_map(String::from), 1 => "[a-z]{1,6}"],
            wire_text(),
            0..24,
        )
    ) {
        if let Ok(a) = Announcement::from_txt(&props) {
            let shown = format!("{:?}", a.facts);
            prop_assert!(!a.facts.name.chars().any(char::is_control), "{}", shown);
            prop_assert!(!a.facts.time_zone.chars().any(char::is_control), "{}", shown);
            prop_assert!(!a.facts.share.identity.chars().any(char::is_control), "{}", shown);
            prop_assert!(a.facts.name.len() <= 64 && a.facts.time_zone.len() <= 64, "{}", shown);
            // Whatever parsed is judged by its signature, never trusted blindly.
            let code = JoinCode::generate();
            prop_assert!(a.verify(Some(&code), a.time_ms).is_err());
        }
    }

    /// A signed announcement with any one property changed (or dropped) is
    /// never accepted with the code that signed the original.
    #[test]
    fn one_changed_property_breaks_the_signature(
        which in 0usize..KEYS.len(),
        value in wire_text(),
        drop in any::<bool>(),
    ) {
        let code = JoinCode::generate();
        let now = 1_795_269_000_000;
        let signed = Announcement::sign(facts(), now, &code);
        let mut props: BTreeMap<String, String> = signed.to_txt().into_iter().collect();
        let original = Announcement::from_txt(&props).unwrap();
        prop_assert!(original.verify(Some(&code), now).is_ok());
        let key = KEYS[which].to_string();
        let before = props.get(&key).cloned();
        if drop {
            props.remove(&key);
        } else {
            props.insert(key.clone(), value.clone());
        }
        prop_assume!(props.get(&key) != before.as_ref());
        match Announcement::from_txt(&props) {
            Err(Untrusted::Malformed(_)) | Err(Untrusted::Unsigned) => {}
            Err(other) => prop_assert!(false, "{key}: unexpected {other:?}"),
            Ok(a) => prop_assert!(
                a.verify(Some(&code), now).is_err(),
                "{key}={value:?} still verifies"
            ),
        }
    }
}

//! The wizard's keys: one table per mode (the screen, and where the focus
//! is on it). The same table decides what a key does and writes the
//! key-help line at the bottom, so the two never disagree.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Where the keys go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The list of steps (on the cluster steps, with their own keys).
    Steps,
    StepsDiscover,
    StepsServerIds,
    /// Typing an answer of the selected step.
    Field,
    /// The nodes table of step 8.
    Nodes,
    /// Typing a host to check by hand (step 8).
    ManualHost,
    /// The join screen, before and while announcing.
    Join,
    Joining,
    /// An earlier run stopped part-way: resume or undo.
    Resume,
    /// A yes/no question.
    Confirm,
    /// Typing the path to save the plan to.
    SavePlan,
    /// Applying or undoing.
    Running,
    /// After a run.
    Summary,
    /// The cluster's health.
    Health,
}

/// What a key asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Quit,
    /// Quit, asking first while a run is under way.
    AskQuit,
    Up,
    Down,
    PageUp,
    PageDown,
    Home,
    End,
    /// Into the selected step's answers (or the nodes table).
    Answer,
    Apply,
    Save,
    Undo,
    /// Undo only the latest run (in the undo question).
    UndoLatest,
    Join,
    /// The cluster's health screen.
    Health,
    /// Record that the awaited nodes are registered in MDaemon.
    Registered,
    NextField,
    PreviousField,
    /// Leave the field or table (back to the steps).
    Done,
    Erase,
    Clear,
    /// Add the selected node to the plan.
    AddNode,
    TakeOutNode,
    TypeHost,
    CheckHost,
    Announce,
    StopAnnouncing,
    Resume,
    Yes,
    No,
    Back,
    SaveNow,
}

/// Keys with the same meaning, and how the help line shows them (`None`:
/// not shown, as the second half of a pair such as Up/Down).
pub(crate) struct Binding {
    pub keys: &'static [KeyCode],
    /// With Ctrl held.
    pub ctrl: bool,
    pub action: Action,
    pub help: Option<(&'static str, &'static str)>,
}

/// A mode's keys. `text`: the mode takes typed text (and says so first in
/// the help line); other characters are then typed, not looked up.
pub(crate) struct Keymap {
    pub text: Option<&'static str>,
    pub bindings: &'static [Binding],
}

const fn key(
    keys: &'static [KeyCode],
    action: Action,
    help: Option<(&'static str, &'static str)>,
) -> Binding {
    Binding {
        keys,
        ctrl: false,
        action,
        help,
    }
}

const fn ctrl(
    keys: &'static [KeyCode],
    action: Action,
    help: Option<(&'static str, &'static str)>,
) -> Binding {
    Binding {
        keys,
        ctrl: true,
        action,
        help,
    }
}

use Action as A;
use KeyCode as K;

const BROWSE_UP: Binding = key(&[K::Up, K::Char('k')], A::Up, Some(("Up/Down", "step")));
const BROWSE_DOWN: Binding = key(&[K::Down, K::Char('j')], A::Down, None);
const PAGE_DOWN: Binding = key(&[K::PageDown], A::PageDown, Some(("PgUp/PgDn", "scroll")));
const PAGE_UP: Binding = key(&[K::PageUp], A::PageUp, None);
const APPLY: Binding = key(&[K::Char('a')], A::Apply, Some(("a", "apply")));
const SAVE: Binding = key(&[K::Char('s')], A::Save, Some(("s", "save")));
const UNDO: Binding = key(&[K::Char('u')], A::Undo, Some(("u", "undo")));
const QUIT: Binding = key(&[K::Char('q'), K::Esc], A::Quit, Some(("q", "quit")));
/// Join stays a key on the cluster steps, unsaid where the line is full.
const JOIN_UNSAID: Binding = key(&[K::Char('J')], A::Join, None);
/// The health screen, from the steps (unsaid: the line is full there; the
/// balancer's step and the summary say it).
const HEALTH_UNSAID: Binding = key(&[K::Char('h')], A::Health, None);
/// Scrolling, not shown where the line has no room for it.
const PAGE_DOWN_UNSAID: Binding = key(&[K::PageDown], A::PageDown, None);
const HOME: Binding = key(&[K::Home], A::Home, None);
const END: Binding = key(&[K::End], A::End, None);

const STEPS: Keymap = Keymap {
    text: None,
    bindings: &[
        key(&[K::Up, K::Char('k')], A::Up, Some(("Up/Dn", "step"))),
        BROWSE_DOWN,
        key(&[K::Tab, K::Enter], A::Answer, Some(("Tab", "answer"))),
        key(&[K::PageDown], A::PageDown, Some(("PgUp/Dn", "scroll"))),
        PAGE_UP,
        HOME,
        END,
        APPLY,
        SAVE,
        UNDO,
        key(&[K::Char('J')], A::Join, Some(("J", "join"))),
        HEALTH_UNSAID,
        QUIT,
    ],
};

const STEPS_DISCOVER: Keymap = Keymap {
    text: None,
    bindings: &[
        BROWSE_UP,
        BROWSE_DOWN,
        key(
            &[K::Tab, K::Enter],
            A::Answer,
            Some(("Enter", "choose nodes")),
        ),
        PAGE_DOWN_UNSAID,
        PAGE_UP,
        HOME,
        END,
        APPLY,
        SAVE,
        UNDO,
        JOIN_UNSAID,
        HEALTH_UNSAID,
        QUIT,
    ],
};

const STEPS_SERVER_IDS: Keymap = Keymap {
    text: None,
    bindings: &[
        BROWSE_UP,
        BROWSE_DOWN,
        key(&[K::Tab, K::Enter], A::Answer, None),
        PAGE_DOWN_UNSAID,
        PAGE_UP,
        HOME,
        END,
        key(
            &[K::Char('r')],
            A::Registered,
            Some(("r", "registered in MDaemon")),
        ),
        APPLY,
        SAVE,
        UNDO,
        JOIN_UNSAID,
        HEALTH_UNSAID,
        QUIT,
    ],
};

const FIELD: Keymap = Keymap {
    text: Some("type to edit"),
    bindings: &[
        key(&[K::Tab, K::Down], A::NextField, Some(("Tab", "next"))),
        key(&[K::BackTab, K::Up], A::PreviousField, None),
        key(&[K::Enter], A::Done, Some(("Enter", "done"))),
        key(&[K::Esc], A::Done, Some(("Esc", "back"))),
        key(&[K::Backspace], A::Erase, None),
        ctrl(&[K::Char('u')], A::Clear, Some(("Ctrl-U", "clear"))),
    ],
};

const NODES: Keymap = Keymap {
    text: None,
    bindings: &[
        key(&[K::Up, K::Char('k')], A::Up, Some(("Up/Down", "node"))),
        BROWSE_DOWN,
        HOME,
        END,
        // The selected node's verdicts, below the table.
        PAGE_DOWN_UNSAID,
        PAGE_UP,
        key(
            &[K::Enter, K::Char('+')],
            A::AddNode,
            Some(("Enter", "add")),
        ),
        key(
            &[K::Char('-'), K::Delete],
            A::TakeOutNode,
            Some(("-", "take out")),
        ),
        key(&[K::Char('m')], A::TypeHost, Some(("m", "enter a host"))),
        key(&[K::Esc, K::Tab], A::Done, Some(("Esc", "back"))),
    ],
};

const MANUAL_HOST: Keymap = Keymap {
    text: Some("type a host"),
    bindings: &[
        key(&[K::Enter], A::CheckHost, Some(("Enter", "check"))),
        key(&[K::Esc], A::Back, Some(("Esc", "back"))),
        key(&[K::Backspace], A::Erase, None),
    ],
};

const JOIN: Keymap = Keymap {
    text: Some("type"),
    bindings: &[
        key(
            &[K::Tab, K::BackTab, K::Up, K::Down],
            A::NextField,
            Some(("Tab", "next field")),
        ),
        key(&[K::Enter], A::Announce, Some(("Enter", "announce"))),
        key(&[K::Esc], A::Back, Some(("Esc", "back"))),
        key(&[K::Backspace], A::Erase, None),
    ],
};

const JOINING: Keymap = Keymap {
    text: None,
    bindings: &[
        key(
            &[K::Esc],
            A::StopAnnouncing,
            Some(("Esc", "stop announcing and go back")),
        ),
        key(&[K::Tab, K::BackTab, K::Up, K::Down], A::NextField, None),
    ],
};

const RESUME: Keymap = Keymap {
    text: None,
    bindings: &[
        key(&[K::Char('r'), K::Enter], A::Resume, Some(("r", "resume"))),
        key(&[K::Char('u')], A::Undo, Some(("u", "undo"))),
        QUIT,
    ],
};

const CONFIRM: Keymap = Keymap {
    text: None,
    bindings: &[
        key(&[K::Char('y'), K::Char('Y')], A::Yes, Some(("y", "yes"))),
        key(
            &[K::Char('n'), K::Char('N'), K::Esc],
            A::No,
            Some(("n", "no")),
        ),
        // Said in the undo question itself, where it applies.
        key(&[K::Char('l'), K::Char('L')], A::UndoLatest, None),
    ],
};

const SAVE_PLAN: Keymap = Keymap {
    text: Some("type a path"),
    bindings: &[
        key(&[K::Enter], A::SaveNow, Some(("Enter", "save"))),
        key(&[K::Esc], A::Back, Some(("Esc", "cancel"))),
        ctrl(&[K::Char('u')], A::Clear, Some(("Ctrl-U", "clear"))),
        key(&[K::Backspace], A::Erase, None),
    ],
};

const RUNNING: Keymap = Keymap {
    text: None,
    bindings: &[
        BROWSE_UP,
        BROWSE_DOWN,
        PAGE_DOWN,
        PAGE_UP,
        HOME,
        END,
        key(
            &[K::Char('q'), K::Esc],
            A::AskQuit,
            Some(("q", "quit (asks first)")),
        ),
    ],
};

const SUMMARY: Keymap = Keymap {
    text: None,
    bindings: &[
        BROWSE_UP,
        BROWSE_DOWN,
        PAGE_DOWN,
        PAGE_UP,
        HOME,
        END,
        key(
            &[K::Enter, K::Esc],
            A::Back,
            Some(("Enter", "back to the steps")),
        ),
        key(&[K::Char('s')], A::Save, Some(("s", "save plan"))),
        key(&[K::Char('h')], A::Health, Some(("h", "health"))),
        key(&[K::Char('q')], A::Quit, Some(("q", "quit"))),
    ],
};

const HEALTH: Keymap = Keymap {
    text: None,
    bindings: &[
        PAGE_DOWN,
        PAGE_UP,
        HOME,
        END,
        key(
            &[K::Esc, K::Enter, K::Char('h')],
            A::Back,
            Some(("Esc", "back")),
        ),
        key(&[K::Char('q')], A::Quit, Some(("q", "quit"))),
    ],
};

/// The keys of a mode.
pub(crate) fn keymap(mode: Mode) -> &'static Keymap {
    match mode {
        Mode::Steps => &STEPS,
        Mode::StepsDiscover => &STEPS_DISCOVER,
        Mode::StepsServerIds => &STEPS_SERVER_IDS,
        Mode::Field => &FIELD,
        Mode::Nodes => &NODES,
        Mode::ManualHost => &MANUAL_HOST,
        Mode::Join => &JOIN,
        Mode::Joining => &JOINING,
        Mode::Resume => &RESUME,
        Mode::Confirm => &CONFIRM,
        Mode::SavePlan => &SAVE_PLAN,
        Mode::Running => &RUNNING,
        Mode::Summary => &SUMMARY,
        Mode::Health => &HEALTH,
    }
}

/// What a key does in a mode: an action, a typed character, or nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pressed {
    Action(Action),
    Typed(char),
    Nothing,
}

impl Keymap {
    pub(crate) fn pressed(&self, key: &KeyEvent) -> Pressed {
        // Ctrl with Alt is AltGr on Windows (`\`, `@`, `{` on many
        // layouts): a typed character, not a Ctrl key.
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL) && !altgr(key);
        // Alt with a key is what a terminal makes of Esc typed just before
        // it: no binding answers it.
        if key.modifiers.contains(KeyModifiers::ALT) && !altgr(key) {
            return Pressed::Nothing;
        }
        let found = self
            .bindings
            .iter()
            .find(|b| b.ctrl == ctrl && b.keys.contains(&key.code));
        if let Some(b) = found {
            return Pressed::Action(b.action);
        }
        match key.code {
            KeyCode::Char(c) if self.text.is_some() && typed(key) && !c.is_control() => {
                Pressed::Typed(c)
            }
            _ => Pressed::Nothing,
        }
    }

    /// The key-help line: what can be typed, then every shown binding.
    pub fn help(&self) -> String {
        let items = self.text.into_iter().map(String::from).chain(
            self.bindings
                .iter()
                .filter_map(|b| b.help)
                .map(|(keys, what)| format!("{keys} {what}")),
        );
        format!(" {}", items.collect::<Vec<_>>().join("  "))
    }
}

/// A key that types a character: no Ctrl or Alt (Shift is fine; a terminal
/// sends Esc followed quickly by a key as Alt+key, which must not land in a
/// field), or both (AltGr, as Windows reports it).
pub fn typed(key: &KeyEvent) -> bool {
    !key.modifiers
        .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
        || altgr(key)
}

/// AltGr, as Windows reports it (elsewhere Ctrl+Alt stays a Ctrl+Alt key).
fn altgr(key: &KeyEvent) -> bool {
    cfg!(windows)
        && key
            .modifiers
            .contains(KeyModifiers::CONTROL | KeyModifiers::ALT)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Mode; 14] = [
        Mode::Steps,
        Mode::StepsDiscover,
        Mode::StepsServerIds,
        Mode::Field,
        Mode::Nodes,
        Mode::ManualHost,
        Mode::Join,
        Mode::Joining,
        Mode::Resume,
        Mode::Confirm,
        Mode::SavePlan,
        Mode::Running,
        Mode::Summary,
        Mode::Health,
    ];

    #[test]
    fn no_key_means_two_things_in_one_mode() {
        for mode in ALL {
            let mut seen = Vec::new();
            for b in keymap(mode).bindings {
                for k in b.keys {
                    assert!(!seen.contains(&(k, b.ctrl)), "{mode:?}: {k:?} twice");
                    seen.push((k, b.ctrl));
                }
            }
        }
    }

    #[test]
    fn text_modes_type_letters_and_command_modes_do_not() {
        let a = KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE);
        assert_eq!(keymap(Mode::Field).pressed(&a), Pressed::Typed('q'));
        assert_eq!(
            keymap(Mode::Steps).pressed(&a),
            Pressed::Action(Action::Quit)
        );
        let ctrl_u = KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL);
        assert_eq!(
            keymap(Mode::Field).pressed(&ctrl_u),
            Pressed::Action(Action::Clear)
        );
        assert_eq!(keymap(Mode::Steps).pressed(&ctrl_u), Pressed::Nothing);
        let x = KeyEvent::new(KeyCode::Char('x'), KeyModifiers::NONE);
        assert_eq!(keymap(Mode::Resume).pressed(&x), Pressed::Nothing);
        // AltGr (Ctrl+Alt on Windows) types: a UNC path needs `\`.
        let both = KeyModifiers::CONTROL | KeyModifiers::ALT;
        let backslash = KeyEvent::new(KeyCode::Char('\\'), both);
        let altgr_u = KeyEvent::new(KeyCode::Char('u'), both);
        if cfg!(windows) {
            assert_eq!(
                keymap(Mode::Field).pressed(&backslash),
                Pressed::Typed('\\')
            );
            assert_eq!(keymap(Mode::Field).pressed(&altgr_u), Pressed::Typed('u'));
        } else {
            assert_eq!(keymap(Mode::Field).pressed(&backslash), Pressed::Nothing);
        }
        // Alt alone (Esc then a key) neither types nor acts.
        let alt = KeyEvent::new(KeyCode::Char('x'), KeyModifiers::ALT);
        assert_eq!(keymap(Mode::Field).pressed(&alt), Pressed::Nothing);
        let alt_a = KeyEvent::new(KeyCode::Char('a'), KeyModifiers::ALT);
        assert_eq!(keymap(Mode::Steps).pressed(&alt_a), Pressed::Nothing);
    }

    #[test]
    fn the_help_line_is_the_table() {
        let lines = [
            (
                Mode::Steps,
                " Up/Dn step  Tab answer  PgUp/Dn scroll  a apply  s save  u undo  J join  q quit",
            ),
            (
                Mode::StepsDiscover,
                " Up/Down step  Enter choose nodes  a apply  s save  u undo  q quit",
            ),
            (
                Mode::StepsServerIds,
                " Up/Down step  r registered in MDaemon  a apply  s save  u undo  q quit",
            ),
            (
                Mode::Field,
                " type to edit  Tab next  Enter done  Esc back  Ctrl-U clear",
            ),
            (
                Mode::Nodes,
                " Up/Down node  Enter add  - take out  m enter a host  Esc back",
            ),
            (Mode::ManualHost, " type a host  Enter check  Esc back"),
            (
                Mode::Join,
                " type  Tab next field  Enter announce  Esc back",
            ),
            (Mode::Joining, " Esc stop announcing and go back"),
            (Mode::Resume, " r resume  u undo  q quit"),
            (Mode::Confirm, " y yes  n no"),
            (
                Mode::SavePlan,
                " type a path  Enter save  Esc cancel  Ctrl-U clear",
            ),
            (
                Mode::Running,
                " Up/Down step  PgUp/PgDn scroll  q quit (asks first)",
            ),
            (
                Mode::Summary,
                " Up/Down step  PgUp/PgDn scroll  Enter back to the steps  s save plan  h health  q quit",
            ),
            (Mode::Health, " PgUp/PgDn scroll  Esc back  q quit"),
        ];
        assert_eq!(lines.len(), ALL.len());
        for (mode, line) in lines {
            assert_eq!(keymap(mode).help(), line, "{mode:?}");
        }
        // Every mode says how to leave it.
        for mode in ALL {
            let help = keymap(mode).help();
            assert!(
                ["quit", "back", "no", "cancel"]
                    .iter()
                    .any(|w| help.contains(w)),
                "{mode:?}: {help}"
            );
        }
    }
}

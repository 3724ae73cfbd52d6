//! The plan file as it is written: one serde struct, rendered by the toml
//! crate (quoting, escapes, table order), for every writer — a validated plan
//! saved ([`super::Plan::render`]), the wizard's answers, the sample
//! installation's plan. Values are the file's own (strings, numbers), so a
//! writer holding text that may be wrong (an answer being typed) writes it as
//! it is and [`super::Plan::parse`] says what is wrong with it.

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};

/// A whole plan file.
#[derive(Clone, Debug, Serialize)]
pub struct PlanFile {
    pub version: i64,
    pub install: InstallTable,
    pub shared: SharedTable,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<NodeTable>,
    #[serde(skip_serializing_if = "OptionsTable::is_empty")]
    pub options: OptionsTable,
    #[serde(skip_serializing_if = "LbTable::is_empty")]
    pub load_balancer: LbTable,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mounts: Vec<MountTable>,
}

#[derive(Clone, Debug, Serialize)]
pub struct InstallTable {
    pub root: String,
}

/// `[shared]`: the sub-folders only where they differ from the defaults.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SharedTable {
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mailboxes: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_folders: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lockfiles: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pem: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gateways: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digests: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archive: Option<String>,
    /// The trees kept on each node (`gateways`, `digests`, `archive`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub keep_local: Vec<String>,
}

impl SharedTable {
    /// Take a tree's own target out (it is kept on each node).
    pub fn clear_target(&mut self, tree: crate::profile::Tree) {
        use crate::profile::Tree;
        match tree {
            Tree::Gateways => self.gateways = None,
            Tree::Digests => self.digests = None,
            Tree::Archive => self.archive = None,
            Tree::Mailboxes => self.mailboxes = None,
            Tree::PublicFolders => self.public_folders = None,
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct NodeTable {
    pub name: String,
    pub address: String,
    pub role: super::Role,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_id: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replaces: Option<String>,
}

/// `[options]`: only the flags that are on.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct OptionsTable {
    #[serde(skip_serializing_if = "is_false")]
    pub restart: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub keep_source: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub stop_mdaemon: bool,
}

impl OptionsTable {
    fn is_empty(&self) -> bool {
        !(self.restart || self.keep_source || self.stop_mdaemon)
    }
}

impl From<&super::Options> for OptionsTable {
    fn from(o: &super::Options) -> OptionsTable {
        OptionsTable {
            restart: o.restart,
            keep_source: o.keep_source,
            stop_mdaemon: o.stop_mdaemon,
        }
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// `[load_balancer]`: what differs from the defaults, so that a saved plan
/// stays short and reads back the same.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LbTable {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cookie: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    #[serde(skip_serializing_if = "PortsTable::is_empty")]
    pub ports: PortsTable,
    #[serde(skip_serializing_if = "PortsTable::is_empty")]
    pub backend_ports: PortsTable,
    #[serde(skip_serializing_if = "FailoverTable::is_empty")]
    pub failover: FailoverTable,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ha: Option<HaTable>,
}

/// `[load_balancer.failover]`: what differs from the defaults.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FailoverTable {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restore_after: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reload: Option<Vec<String>>,
}

impl FailoverTable {
    fn is_empty(&self) -> bool {
        *self == FailoverTable::default()
    }
}

/// `[load_balancer.ha]` and its `[[load_balancer.ha.hosts]]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HaTable {
    pub virtual_ip: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    pub router_id: i64,
    #[serde(skip_serializing_if = "is_false")]
    pub health_check: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check_script: Option<String>,
    pub hosts: Vec<HaHostTable>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HaHostTable {
    pub name: String,
    pub address: String,
    pub priority: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
}

impl LbTable {
    pub fn is_empty(&self) -> bool {
        *self == LbTable::default()
    }
}

/// Ports by service key, in the order of [`super::Service::ALL`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PortsTable(pub Vec<(&'static str, u16)>);

impl PortsTable {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for PortsTable {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (key, port) in &self.0 {
            map.serialize_entry(key, port)?;
        }
        map.end()
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct MountTable {
    pub windows: String,
    pub local: String,
}

impl PlanFile {
    /// The file's text: `comments` (each line gets its `# `), then the tables.
    pub(crate) fn to_text(&self, comments: &[&str]) -> String {
        let mut out = String::new();
        for c in comments {
            // A line break in a name (a folder's) must not end the comment.
            out.push_str(&format!("# {}\n", crate::text::sanitize(c)));
        }
        // Serializing these plain structs cannot fail; an empty plan would
        // only be refused by the parser that reads it back.
        out.push_str(&toml::to_string(self).unwrap_or_default());
        out
    }
}

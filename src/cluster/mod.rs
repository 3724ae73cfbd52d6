//! The cluster: what each node is ([`facts`]), how a secondary proves it was
//! invited ([`pairing`]), the rules a node must meet ([`rules`]), and the
//! record of nodes and server IDs on the share ([`manifest`]).

pub mod facts;
pub mod manifest;
pub mod pairing;
pub mod rules;

//! Warrant's home on disk, shared by every Warrant process (`warrant up`,
//! `warrant run`, the one-shot CLI commands): the layout of the home and
//! where each key lives ([`home`]), `warrant.toml` as typed values
//! ([`config`]), and the state database `state.db`: tool pins and
//! quarantine ([`pins`]), credential leases ([`leases`]) and the calls seen
//! in discovery mode ([`discovery`]).
//!
//! It holds no running state and makes no decision: each process opens what
//! it needs from here and nothing else.

pub mod config;
pub mod discovery;
pub mod home;
pub mod leases;
pub mod pins;

pub use config::Config;
pub use home::Home;

//! Name resolution, the one step that sends something about a destination
//! off the machine before it is connected to: a query for the name goes to
//! name servers the agent may control (its own domain's). So the proxy calls
//! a [`Resolver`] only for a name the gate has allowed (see `check.rs`), and
//! never again for the same request (DNS rebinding).
//!
//! The resolver is pluggable so that an embedder can choose another one and
//! a test can see every name the proxy asks about. It is not a cache and not
//! a DNS client: [`SystemResolver`] is the operating system's
//! (`getaddrinfo`, through tokio), with whatever caching and
//! `/etc/hosts` handling the host has.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;

/// The future a [`Resolver`] returns.
pub type Resolving<'a> = Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send + 'a>>;

/// Turns a host name into addresses. The proxy bounds each call with
/// [`EgressConfig::resolve_timeout`](crate::EgressConfig::resolve_timeout),
/// removes duplicates, and treats an empty answer as a failure.
pub trait Resolver: Send + Sync + fmt::Debug + 'static {
    /// The addresses of `name` (never an IP literal: those are not resolved),
    /// for a connection to `port`.
    fn resolve<'a>(&'a self, name: &'a str, port: u16) -> Resolving<'a>;
}

/// The operating system's resolver: [`tokio::net::lookup_host`].
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn resolve<'a>(&'a self, name: &'a str, port: u16) -> Resolving<'a> {
        Box::pin(async move {
            let found = tokio::net::lookup_host((name, port)).await?;
            Ok(found.map(|addr| addr.ip()).collect())
        })
    }
}

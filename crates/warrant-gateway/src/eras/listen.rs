//! Tool-list changes by each era's route.
//!
//! A 2025-11-25 peer sends `notifications/tools/list_changed` on its
//! session whenever it likes. A 2026-07-28 peer has no session: it sends
//! change notifications only on a `subscriptions/listen` stream the other
//! side opened, tagged with that stream's id. So Warrant opens such a
//! stream to each 2026-07-28 upstream ([`follow_upstream`]: without it a
//! rug pull there went unseen), and serves one to each 2026-07-28 agent that
//! asks ([`Listeners`]); rmcp already carries the 2025-11-25 route both ways.

use super::Era;
use rmcp::model::{ErrorData, ServerNotification, SubscriptionFilter, ToolListChangedNotification};
use rmcp::service::{Peer, RoleClient, Subscription, SubscriptionContext, SubscriptionSink};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;
use warrant_core::UnixMillis;

const FIRST_RETRY: Duration = Duration::from_millis(500);
const MAX_RETRY: Duration = Duration::from_secs(30);

/// The `subscriptions/listen` streams 2026-07-28 agents hold open, each told
/// when the tools change (as 2025-11-25 sessions are by a notification).
#[derive(Default)]
pub struct Listeners {
    next: AtomicU64,
    sinks: Mutex<HashMap<u64, SubscriptionSink>>,
}

impl Listeners {
    /// What Warrant honors of a requested filter: tool-list changes, the
    /// only kind it has (it relays no prompts or resources).
    pub fn accepted(requested: &SubscriptionFilter) -> Option<SubscriptionFilter> {
        let mut accepted = SubscriptionFilter::default();
        accepted.tools_list_changed = requested.tools_list_changed.filter(|&on| on);
        Some(accepted)
    }

    /// Serves one agent's stream until the agent closes it, `stopped`
    /// fires (a kill or revocation), or its credential expires at
    /// `expires_at`: the stream is a standing grant, so it ends with them.
    pub async fn serve(
        &self,
        context: SubscriptionContext,
        stopped: impl Future<Output = ()>,
        expires_at: UnixMillis,
    ) -> Result<(), ErrorData> {
        let left = expires_at.0.saturating_sub(UnixMillis::now().0);
        let until = Duration::from_millis(u64::try_from(left).unwrap_or(0));
        let key = self.next.fetch_add(1, Ordering::Relaxed);
        if context.accepted().tools_list_changed == Some(true)
            && let Ok(mut sinks) = self.sinks.lock()
        {
            sinks.insert(key, context.sink().clone());
        }
        let _registered = Registered { listeners: self, key };
        tokio::select! {
            () = context.cancelled() => {}
            () = stopped => {}
            () = tokio::time::sleep(until) => {}
        }
        Ok(())
    }

    /// Sends `notifications/tools/list_changed` on every open stream.
    pub fn notify_tools_changed(&self) {
        let sinks: Vec<SubscriptionSink> = match self.sinks.lock() {
            Ok(sinks) => sinks.values().cloned().collect(),
            Err(_) => return,
        };
        if sinks.is_empty() {
            return;
        }
        tokio::spawn(async move {
            for sink in sinks {
                let changed = ToolListChangedNotification::default();
                if let Err(e) =
                    sink.send(ServerNotification::ToolListChangedNotification(changed)).await
                {
                    tracing::debug!(error = %e, "a subscriptions/listen stream missed tools/list_changed");
                }
            }
        });
    }

    /// How many streams are open.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.sinks.lock().map(|s| s.len()).unwrap_or(0)
    }
}

/// Takes a stream off the list when its service ends, however it ends.
struct Registered<'a> {
    listeners: &'a Listeners,
    key: u64,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        if let Ok(mut sinks) = self.listeners.sinks.lock() {
            sinks.remove(&self.key);
        }
    }
}

/// Follows a 2026-07-28 upstream's tool-list changes, notifying `changed`
/// for each, as long as the returned value lives. The stream is open (or
/// refused) when this returns, so a change after a listing that follows is
/// never missed; a stream that breaks is opened again, with a relisting,
/// since what it carried in between is lost. Nothing to do for a
/// 2025-11-25 upstream, or one that does not announce changes.
pub async fn follow_upstream(
    upstream: &str,
    peer: &Peer<RoleClient>,
    changed: Arc<Notify>,
    timeout: Duration,
) -> Following {
    let announces = peer
        .peer_info()
        .and_then(|info| info.capabilities.tools.as_ref().and_then(|t| t.list_changed))
        == Some(true);
    if Era::of_upstream(peer) != Era::Stateless || !announces {
        return Following(None);
    }
    let first = match open(peer, timeout).await {
        Ok(subscription) => Some(subscription),
        Err(e) if e.method_not_found => {
            tracing::warn!(%upstream, error = %e.message, "the upstream announces tool-list changes but refuses subscriptions/listen: a change there is seen only when it reconnects");
            return Following(None);
        }
        Err(e) => {
            tracing::warn!(%upstream, error = %e.message, "subscriptions/listen to the upstream failed; retrying");
            None
        }
    };
    let task = tokio::spawn(follow(upstream.to_owned(), peer.clone(), changed, first, timeout));
    Following(Some(task))
}

/// Stops following on drop.
pub struct Following(Option<tokio::task::JoinHandle<()>>);

impl Following {
    /// Whether a stream is being followed.
    #[cfg(test)]
    fn is_active(&self) -> bool {
        self.0.is_some()
    }
}

impl Drop for Following {
    fn drop(&mut self) {
        if let Some(task) = self.0.take() {
            task.abort();
        }
    }
}

struct OpenFailed {
    method_not_found: bool,
    message: String,
}

async fn open(peer: &Peer<RoleClient>, timeout: Duration) -> Result<Subscription, OpenFailed> {
    let filter = SubscriptionFilter::builder().tools_list_changed().build();
    match tokio::time::timeout(timeout, peer.listen(filter)).await {
        Err(_) => {
            Err(OpenFailed { method_not_found: false, message: "no acknowledgment in time".into() })
        }
        Ok(Err(rmcp::ServiceError::McpError(e))) => Err(OpenFailed {
            method_not_found: e.code == rmcp::model::ErrorCode::METHOD_NOT_FOUND,
            message: e.message.to_string(),
        }),
        Ok(Err(e)) => Err(OpenFailed { method_not_found: false, message: e.to_string() }),
        Ok(Ok(subscription)) => Ok(subscription),
    }
}

async fn follow(
    upstream: String,
    peer: Peer<RoleClient>,
    changed: Arc<Notify>,
    mut current: Option<Subscription>,
    timeout: Duration,
) {
    let mut retry = FIRST_RETRY;
    loop {
        if let Some(mut subscription) = current.take() {
            retry = FIRST_RETRY;
            loop {
                match subscription.next().await {
                    Ok(Some(ServerNotification::ToolListChangedNotification(_))) => {
                        changed.notify_one();
                    }
                    Ok(Some(_)) => {}
                    Ok(None) | Err(_) => break,
                }
            }
        }
        if peer.is_transport_closed() {
            return;
        }
        tokio::time::sleep(retry).await;
        retry = (retry * 2).min(MAX_RETRY);
        match open(&peer, timeout).await {
            Ok(subscription) => {
                // What changed while no stream was open is not replayed.
                changed.notify_one();
                current = Some(subscription);
            }
            Err(e) => {
                tracing::debug!(%upstream, error = %e.message, "reopening subscriptions/listen failed")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmcp::model::{ProtocolVersion, ServerCapabilities, ServerConfig};
    use rmcp::service::{ClientLifecycleMode, ClientServiceExt, RunningService};
    use rmcp::{ServerHandler, ServiceExt};
    use std::sync::atomic::AtomicUsize;
    use tokio_util::sync::CancellationToken;

    const WAIT: Duration = Duration::from_secs(20);

    /// A server that serves `subscriptions/listen` as the gateway does; its
    /// first `end_early` streams end as soon as they are acknowledged, and
    /// each stream's credential lasts `lifetime`.
    #[derive(Clone)]
    struct Server {
        listeners: Arc<Listeners>,
        stop: CancellationToken,
        serves_listen: bool,
        ended_early: Arc<AtomicUsize>,
        end_early: usize,
        lifetime: Duration,
    }

    impl Server {
        fn new() -> Self {
            Self {
                listeners: Arc::new(Listeners::default()),
                stop: CancellationToken::new(),
                serves_listen: true,
                ended_early: Arc::new(AtomicUsize::new(0)),
                end_early: 0,
                lifetime: Duration::from_secs(3600),
            }
        }
    }

    impl ServerHandler for Server {
        // Prompts and resources are advertised too, so that only
        // `Listeners::accepted` keeps them out of a stream.
        fn get_info(&self) -> ServerConfig {
            let capabilities = ServerCapabilities::builder()
                .enable_prompts()
                .enable_resources()
                .enable_tools()
                .enable_prompts_list_changed()
                .enable_resources_list_changed()
                .enable_tool_list_changed()
                .build();
            ServerConfig::new(capabilities)
        }

        fn accepted_subscription_filter(
            &self,
            requested: &SubscriptionFilter,
        ) -> Option<SubscriptionFilter> {
            if self.serves_listen { Listeners::accepted(requested) } else { None }
        }

        async fn listen(&self, context: SubscriptionContext) -> Result<(), ErrorData> {
            if self.ended_early.fetch_add(1, Ordering::SeqCst) < self.end_early {
                return Ok(());
            }
            let stop = self.stop.clone();
            let expires_at = UnixMillis::now().plus(self.lifetime);
            self.listeners.serve(context, async move { stop.cancelled().await }, expires_at).await
        }
    }

    async fn connect(
        server: Server,
        lifecycle: ClientLifecycleMode,
    ) -> RunningService<RoleClient, ()> {
        let (server_side, client_side) = tokio::io::duplex(1 << 16);
        tokio::spawn(async move {
            if let Ok(running) = server.serve(server_side).await {
                let _ = running.waiting().await;
            }
        });
        ().serve_with_lifecycle(client_side, lifecycle).await.unwrap()
    }

    fn stateless() -> ClientLifecycleMode {
        ClientLifecycleMode::Discover { preferred_versions: vec![ProtocolVersion::V_2026_07_28] }
    }

    fn tools_only() -> SubscriptionFilter {
        SubscriptionFilter::builder().tools_list_changed().build()
    }

    async fn until(mut done: impl FnMut() -> bool) {
        tokio::time::timeout(WAIT, async {
            while !done() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .unwrap();
    }

    #[tokio::test]
    async fn a_2026_agent_hears_of_tool_changes_on_its_listen_stream() {
        let server = Server::new();
        let listeners = server.listeners.clone();
        let client = connect(server, stateless()).await;
        let mut stream = client.peer().listen(tools_only()).await.unwrap();
        assert_eq!(stream.acknowledged().tools_list_changed, Some(true));
        until(|| listeners.len() == 1).await;
        listeners.notify_tools_changed();
        let heard = tokio::time::timeout(WAIT, stream.next()).await.unwrap().unwrap();
        assert!(
            matches!(heard, Some(ServerNotification::ToolListChangedNotification(_))),
            "{heard:?}"
        );
    }

    #[tokio::test]
    async fn only_tool_changes_are_honored() {
        let client = connect(Server::new(), stateless()).await;
        let mut asked = tools_only();
        asked.prompts_list_changed = Some(true);
        asked.resources_list_changed = Some(true);
        let stream = client.peer().listen(asked).await.unwrap();
        assert_eq!(stream.acknowledged(), &tools_only());
    }

    #[tokio::test]
    async fn a_stream_ends_when_its_agent_is_stopped() {
        let server = Server::new();
        let (listeners, stop) = (server.listeners.clone(), server.stop.clone());
        let client = connect(server, stateless()).await;
        let mut stream = client.peer().listen(tools_only()).await.unwrap();
        until(|| listeners.len() == 1).await;
        stop.cancel();
        let ended = tokio::time::timeout(WAIT, stream.next()).await.unwrap().unwrap();
        assert!(ended.is_none());
        until(|| listeners.len() == 0).await;
    }

    #[tokio::test]
    async fn a_stream_ends_when_its_agents_credential_expires() {
        let mut server = Server::new();
        server.lifetime = Duration::from_millis(200);
        let client = connect(server, stateless()).await;
        let mut stream = client.peer().listen(tools_only()).await.unwrap();
        let ended = tokio::time::timeout(WAIT, stream.next()).await.unwrap().unwrap();
        assert!(ended.is_none());
    }

    #[tokio::test]
    async fn warrant_follows_a_2026_upstreams_tool_changes() {
        let upstream = Server::new();
        let listeners = upstream.listeners.clone();
        let client = connect(upstream, stateless()).await;
        let changed = Arc::new(Notify::new());
        let following = follow_upstream("u", client.peer(), changed.clone(), WAIT).await;
        assert!(following.is_active());
        // The stream was acknowledged before `follow_upstream` returned.
        assert_eq!(listeners.len(), 1);
        listeners.notify_tools_changed();
        tokio::time::timeout(WAIT, changed.notified()).await.unwrap();
        drop(following);
        until(|| listeners.len() == 0).await;
    }

    #[tokio::test]
    async fn a_broken_stream_is_reopened_and_the_tools_relisted() {
        let mut upstream = Server::new();
        upstream.end_early = 1;
        let listeners = upstream.listeners.clone();
        let client = connect(upstream, stateless()).await;
        let changed = Arc::new(Notify::new());
        let _following = follow_upstream("u", client.peer(), changed.clone(), WAIT).await;
        // The first stream ended at once; the second one tells of its start.
        tokio::time::timeout(WAIT, changed.notified()).await.unwrap();
        until(|| listeners.len() == 1).await;
        listeners.notify_tools_changed();
        tokio::time::timeout(WAIT, changed.notified()).await.unwrap();
    }

    #[tokio::test]
    async fn a_2025_upstream_or_one_refusing_listen_is_not_followed() {
        let client = connect(Server::new(), ClientLifecycleMode::Initialize).await;
        let following = follow_upstream("u", client.peer(), Arc::new(Notify::new()), WAIT).await;
        assert!(!following.is_active());
        let mut refusing = Server::new();
        refusing.serves_listen = false;
        let client = connect(refusing, stateless()).await;
        let following = follow_upstream("u", client.peer(), Arc::new(Notify::new()), WAIT).await;
        assert!(!following.is_active());
    }
}

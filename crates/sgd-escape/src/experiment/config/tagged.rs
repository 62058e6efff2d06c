//! Reading enums written as tables tagged by `kind` (or `source`), with the tag read first.
//!
//! serde's own internally tagged enums buffer the table before choosing the variant, which
//! loses the path of every error inside it. Here the reader moves the tag to the front of each
//! table ([`tag_first`]), and [`tagged_enum!`] reads the tag, picks the variant, and lets the
//! variant's derived deserializer read the rest of the same table, so an error names its full
//! key (e.g. `dynamics.noise.temperature`). A plain string is accepted as a table holding only
//! the tag (`saddle = "none"`). Serialisation is serde's own `#[serde(tag = "kind")]`.

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer};
use std::fmt;

/// The keys that tag a table's variant.
pub const TAGS: [&str; 2] = ["kind", "source"];

/// Moves the tag of every table in `value` to the front, recursively.
pub fn tag_first(value: &mut toml::Value) {
    match value {
        toml::Value::Table(table) => {
            for tag in TAGS {
                if let Some(v) = table.remove(tag) {
                    let rest = std::mem::take(table);
                    table.insert(tag.to_string(), v);
                    table.extend(rest);
                }
            }
            table.iter_mut().for_each(|(_, v)| tag_first(v));
        }
        toml::Value::Array(items) => items.iter_mut().for_each(tag_first),
        _ => {}
    }
}

/// Reads a tag value and checks it against the variant names.
pub struct TagSeed(pub &'static [&'static str]);

impl<'de> DeserializeSeed<'de> for TagSeed {
    type Value = String;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<String, D::Error> {
        let name = String::deserialize(deserializer)?;
        if self.0.contains(&name.as_str()) { Ok(name) } else { Err(de::Error::unknown_variant(&name, self.0)) }
    }
}

/// What a tagged table is expected to be, for messages.
pub struct Expecting(pub &'static str, pub &'static [&'static str]);

impl fmt::Display for Expecting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a table with `{}` = one of {:?}, or one of those names", self.0, self.1)
    }
}

/// Implements `Deserialize` for an enum of newtype variants written as a table tagged by
/// `$tag`: `tagged_enum!(Type, "kind", { "name" => Variant(Inner), … })`.
macro_rules! tagged_enum {
    ($ty:ident, $tag:literal, { $($name:literal => $variant:ident($inner:ty)),+ $(,)? }) => {
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
                const NAMES: &[&str] = &[$($name),+];
                struct TaggedVisitor;
                impl TaggedVisitor {
                    fn variant<'de, D2: serde::Deserializer<'de>>(name: &str, rest: D2) -> std::result::Result<$ty, D2::Error> {
                        match name {
                            $($name => <$inner as serde::Deserialize>::deserialize(rest).map($ty::$variant),)+
                            other => Err(serde::de::Error::unknown_variant(other, NAMES)),
                        }
                    }
                }
                impl<'de> serde::de::Visitor<'de> for TaggedVisitor {
                    type Value = $ty;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        write!(f, "{}", $crate::experiment::config::tagged::Expecting($tag, NAMES))
                    }
                    fn visit_str<E: serde::de::Error>(self, name: &str) -> std::result::Result<$ty, E> {
                        if !NAMES.contains(&name) {
                            return Err(serde::de::Error::unknown_variant(name, NAMES));
                        }
                        let empty = serde::de::value::MapDeserializer::<_, E>::new(std::iter::empty::<(&str, &str)>());
                        Self::variant(name, empty)
                    }
                    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> std::result::Result<$ty, A::Error> {
                        match map.next_key::<String>()? {
                            Some(key) if key == $tag => {}
                            _ => return Err(serde::de::Error::missing_field($tag)),
                        }
                        let name = map.next_value_seed($crate::experiment::config::tagged::TagSeed(NAMES))?;
                        Self::variant(&name, serde::de::value::MapAccessDeserializer::new(map))
                    }
                }
                deserializer.deserialize_any(TaggedVisitor)
            }
        }
    };
}
pub(crate) use tagged_enum;

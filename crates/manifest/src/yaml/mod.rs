//! YAML in (a position index next to the typed parse) and YAML out (kubectl's style).

pub(crate) mod emit;
pub(crate) mod index;
pub(crate) mod locate;

pub use emit::to_yaml;
pub use index::Pos;

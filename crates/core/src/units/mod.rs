//! Units users write in manifests: Kubernetes quantities (`500m`, `1Gi`) and Go durations
//! (`30s`, `1m30s`). Parsing and canonical formatting match the Kubernetes API machinery, so a
//! value prints back the way `kubectl` would print it.

pub mod duration;
pub mod quantity;

pub use duration::{KubeDuration, format_duration, parse_duration};
pub use quantity::{Quantity, QuantityFormat};

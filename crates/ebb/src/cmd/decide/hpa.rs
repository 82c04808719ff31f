//! HPA scenarios for `ebb decide`.

use super::Report;
use crate::cmd::UserError;

pub(crate) fn decide(_text: &str, origin: &str) -> anyhow::Result<Report> {
    Err(UserError(format!("{origin}: HPA scenarios are being implemented")).into())
}

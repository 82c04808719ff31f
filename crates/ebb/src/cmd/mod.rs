//! One module per subcommand.

pub(crate) mod admin_client;
pub(crate) mod autoscale;
#[cfg(feature = "k8s")]
pub(crate) mod controller;
pub(crate) mod convert;
pub(crate) mod decide;
pub(crate) mod describe;
#[cfg(feature = "k8s")]
pub(crate) mod gateway;
pub(crate) mod get;
pub(crate) mod load;
pub(crate) mod logs;
pub(crate) mod model_server;
pub(crate) mod serve;
pub(crate) mod sim;
pub(crate) mod validate;

/// A user mistake (bad file, bad flag): exit status 1, with a message that says what to change.
#[derive(Debug)]
pub(crate) struct UserError(pub(crate) String);

impl std::fmt::Display for UserError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UserError {}

/// The threads asked for on the command line, else one per core this process may use (the
/// cgroup's CPU quota counts).
pub(crate) fn threads_or_one_per_core(asked: Option<usize>) -> usize {
    asked.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
}

/// Whose answers the gateway gives where ebb deliberately differs from Knative.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub(crate) enum Answers {
    /// 504 for a request held at zero past its wait; a stream cut at the idle timeout ends
    /// abnormally, so the client can tell.
    Ebb,
    /// 503 for a request held at zero past its wait (the activator's); a stream cut at the
    /// idle timeout gets the gateway's message and ends as if complete (queue-proxy's).
    Knative,
}

impl From<Answers> for ebb_gateway::Answers {
    fn from(answers: Answers) -> Self {
        match answers {
            Answers::Ebb => ebb_gateway::Answers::Ebb,
            Answers::Knative => ebb_gateway::Answers::Knative,
        }
    }
}

/// A duration flag that must be more than zero (`500ms`, `30s`, `1m`).
pub(crate) fn positive_duration(s: &str) -> Result<std::time::Duration, String> {
    match ebb_core::units::parse_duration(s).map_err(|e| e.to_string())? {
        d if d.is_zero() => Err("must be greater than 0s".to_string()),
        d => Ok(d),
    }
}

/// The gateway's request-head limit, as a Kubernetes quantity (`64Ki`, `16384`).
pub(crate) fn header_bytes(s: &str) -> Result<usize, String> {
    let min = ebb_gateway::MIN_HEADER_BYTES;
    let quantity: ebb_core::units::Quantity = s
        .parse()
        .map_err(|e| format!("{e} (examples: 64Ki, 16384)"))?;
    match usize::try_from(quantity.value()) {
        Ok(bytes) if bytes >= min => Ok(bytes),
        _ => Err(format!("must be at least {}Ki ({min} bytes)", min / 1024)),
    }
}

/// The gateway's client connection limit.
pub(crate) fn connection_count(s: &str) -> Result<usize, String> {
    let max = ebb_gateway::MAX_CONNECTIONS;
    match s.parse::<usize>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(format!("must be a whole number from 1 to {max}")),
    }
}

/// How the gateway chooses a replica among those with a free slot.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub(crate) enum Balancing {
    /// The less loaded of two replicas drawn at random, at every containerConcurrency.
    LeastOfTwo,
    /// Knative's activator's: least-of-two at containerConcurrency 0, the first replica with
    /// a free slot at 1-3, round robin above 3.
    Knative,
}

impl From<Balancing> for ebb_gateway::Balancing {
    fn from(balancing: Balancing) -> Self {
        match balancing {
            Balancing::LeastOfTwo => ebb_gateway::Balancing::LeastOfTwo,
            Balancing::Knative => ebb_gateway::Balancing::Knative,
        }
    }
}

/// 1 for user errors anywhere in the chain, 2 for everything else.
pub(crate) fn exit_code(error: &anyhow::Error) -> u8 {
    if error.chain().any(|e| e.is::<UserError>()) {
        1
    } else {
        2
    }
}

/// True when stdout was closed under us (`ebb ... | head`): not an error, as in ripgrep.
pub(crate) fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error
        .chain()
        .filter_map(|e| e.downcast_ref::<std::io::Error>())
        .any(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}

/// Writes command output to stdout, returning the error instead of panicking when the reader
/// has gone away.
pub(crate) fn output(text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()
}

/// Logs to stderr, filtered by `RUST_LOG` (default `info`).
pub(crate) fn init_logging() {
    use std::io::IsTerminal as _;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Fails only when a subscriber is already installed, which is fine.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_bytes_are_a_quantity_of_at_least_8ki() {
        assert_eq!(header_bytes("64Ki"), Ok(64 * 1024));
        assert_eq!(header_bytes("16384"), Ok(16384));
        assert_eq!(header_bytes("1Mi"), Ok(1024 * 1024));
        for small in ["8191", "4Ki", "0", "-64Ki"] {
            let error = header_bytes(small).unwrap_err();
            assert!(error.contains("at least 8Ki"), "{small}: {error}");
        }
        assert!(header_bytes("lots").unwrap_err().contains("examples: 64Ki"));
    }

    #[test]
    fn connection_counts_are_whole_and_in_range() {
        assert_eq!(connection_count("10000"), Ok(10_000));
        for bad in ["0", "-1", "1.5", "100000000"] {
            assert!(connection_count(bad).is_err(), "{bad}");
        }
    }
}

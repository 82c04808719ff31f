//! `ebb logs`: what a service's replicas wrote to stdout and stderr, like `kubectl logs`.
//!
//! `ebb serve` keeps one log file per replica in its state directory; the supervisor crate
//! knows the layout and reads them (`ebb_supervisor::logs`).

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use ebb_supervisor::StateDir;
use ebb_supervisor::logs::{Line, Reader, Selection};

use super::{UserError, output};

/// Print the logs of a service's replicas (stdout and stderr).
#[derive(clap::Args)]
#[command(after_help = "Examples:
  ebb logs custom-model                # every replica, each line prefixed with its replica
  ebb logs custom-model --replica 2    # one replica (also: ebb logs custom-model-2)
  ebb logs custom-model -f --tail 20   # the last 20 lines of each, then follow
  ebb logs app-fastapi --state-dir /tmp/ebb")]
pub(crate) struct Args {
    /// A service, or one of its replicas (`service-N`).
    name: String,
    /// Keep printing lines as they are written, including from replicas started later.
    #[arg(short, long)]
    follow: bool,
    /// Only replica N of the service.
    #[arg(long, value_name = "N")]
    replica: Option<u32>,
    /// Only the last N lines of each replica (before following).
    #[arg(long, value_name = "N")]
    tail: Option<usize>,
    /// Where `ebb serve` keeps its state [default: $EBB_STATE_DIR, else $XDG_STATE_HOME/ebb,
    /// else ~/.local/state/ebb].
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
}

/// How often follow mode looks for new lines.
const FOLLOW_POLL: Duration = Duration::from_millis(200);

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let state = StateDir::new(
        args.state_dir
            .clone()
            .unwrap_or_else(StateDir::default_root),
    );
    let selection = Selection::resolve(&state, &args.name, args.replica)
        .map_err(|e| UserError(e.to_string()))?;
    let prefix = selection.is_service();
    let mut reader = Reader::new(state, selection);
    let first = reader.read(!args.follow)?;
    print(&last_lines(first, args.tail), prefix)?;
    if !args.follow {
        return Ok(ExitCode::SUCCESS);
    }
    // Like `tail -f`: until interrupted (Ctrl-C) or the reader goes away (broken pipe).
    loop {
        std::thread::sleep(FOLLOW_POLL);
        print(&reader.read(false)?, prefix)?;
    }
}

/// Keeps the last `tail` lines of each replica, in their original order.
fn last_lines(lines: Vec<Line>, tail: Option<usize>) -> Vec<Line> {
    let Some(tail) = tail else {
        return lines;
    };
    let mut kept: BTreeMap<String, VecDeque<Line>> = BTreeMap::new();
    for line in lines {
        let queue = kept.entry(line.replica.clone()).or_default();
        queue.push_back(line);
        if queue.len() > tail {
            queue.pop_front();
        }
    }
    kept.into_values().flatten().collect()
}

fn print(lines: &[Line], prefix: bool) -> std::io::Result<()> {
    if lines.is_empty() {
        return Ok(());
    }
    let mut text = String::new();
    for line in lines {
        if prefix {
            text.push('[');
            text.push_str(&line.replica);
            text.push_str("] ");
        }
        text.push_str(&line.text);
        text.push('\n');
    }
    output(&text)
}

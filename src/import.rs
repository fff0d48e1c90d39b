//! `tagdrift import`: reads every key and secret in the accounts and regions of a desired state (or those the
//! `--match` selectors name) and writes a desired-state file declaring each with its current tags. The file's
//! text is `tagdrift_core::import`'s; this module reads the input files, runs the read (discovery of every
//! scope, aliases included), writes the output atomically and says what could not be read.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tagdrift_cloud::NoObserver;
use tagdrift_cloud::credentials::ProcessEnv;
use tagdrift_cloud::read::{Reader, ReaderOptions};
use tagdrift_core::config::{self, Discovery, Glob, Selector};
use tagdrift_core::import::{self, Imported, Options};

use crate::check::{self, CloudSource};
use crate::desired;

/// Why `import` wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{0}")]
    Config(config::ConfigErrors),
    #[error("cannot set up reading the clouds: {0}")]
    Reader(String),
    #[error("{0}")]
    Render(#[from] import::ImportError),
    #[error("{path}: cannot write: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What one import did.
pub struct Outcome {
    pub imported: Imported,
    /// How long the read took.
    pub seconds: f64,
}

/// Reads the clouds of the desired state at `config` and writes the imported file to `output`.
pub async fn run(
    config: &Path,
    output: &Path,
    selectors: &[Selector],
    factor_defaults: bool,
) -> Result<Outcome, ImportError> {
    let parts = desired::read_parts(config).map_err(ImportError::Config)?;
    let texts: Vec<(String, String)> = parts
        .iter()
        .map(|(name, bytes)| (name.clone(), String::from_utf8_lossy(bytes).into_owned()))
        .collect();
    let state = config::from_parts(parts).map_err(ImportError::Config)?;
    let reading = reading_state(&state, selectors);
    let options = ReaderOptions {
        env: Arc::new(ProcessEnv),
        observer: Arc::new(NoObserver),
    };
    let reader = Reader::new(&reading, options).map_err(|e| ImportError::Reader(e.to_string()))?;
    let source = CloudSource(reader);
    let read = check::read(&reading, &source).await;
    drop(source);
    let options = Options {
        selectors,
        factor_defaults,
        generated_at: read.finished,
        source: &config.display().to_string(),
    };
    let imported = import::render(&texts, &state, &read.observations, &options)?;
    write_atomically(output, &imported.text).map_err(|source| ImportError::Write {
        path: output.to_owned(),
        source,
    })?;
    Ok(Outcome {
        imported,
        seconds: read.duration.as_secs_f64(),
    })
}

/// The desired state the read uses: the accounts and limits of `state`, nothing declared, and every scope (or
/// those `selectors` name) discovered. Every selector gets a `name` glob, so keys are read with their aliases.
fn reading_state(state: &config::DesiredState, selectors: &[Selector]) -> config::DesiredState {
    let any = Selector::default();
    let chosen: Vec<&Selector> = if selectors.is_empty() {
        vec![&any]
    } else {
        selectors.iter().collect()
    };
    let mut reading = state.clone();
    reading.resources.clear();
    reading.defaults.clear();
    reading.rules.clear();
    reading.ignores.entries.clear();
    reading.discovery = chosen
        .into_iter()
        .map(|s| {
            let mut selector = s.clone();
            if selector.name.is_none() {
                selector.name = Glob::new("*").ok();
            }
            Discovery {
                selector,
                report_unmanaged: true,
            }
        })
        .collect();
    reading
}

/// Writes beside `path`, then renames over it, so a reader never sees half a file.
fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, path)
}

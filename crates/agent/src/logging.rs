//! Logging in Patroni's shape: `2026-11-23 10:31:47,082 INFO: message` on stderr, or in
//! `<log.dir>/patroni.log` rotated by size, or JSON lines with `log.type: json`.

use anyhow::{Context, Result};
use chrono::Local;
use ferroni_config::schema::Log;
use file_rotate::{ContentLimit, FileRotate, compression::Compression, suffix::AppendCount};
use serde_json::{Map, Value};
use std::fmt::Write as _;
use std::path::Path;
use std::sync::{Mutex, OnceLock};
use tracing::{Event, Level, Subscriber, field::Field};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, format::Writer};
use tracing_subscriber::registry::LookupSpan;

/// Patroni's (Python logging's) level names.
fn level_name(level: &Level) -> &'static str {
    match *level {
        Level::ERROR => "ERROR",
        Level::WARN => "WARNING",
        Level::INFO => "INFO",
        Level::DEBUG | Level::TRACE => "DEBUG",
    }
}

/// `log.level` to a filter; Python's FATAL and CRITICAL are above ERROR, which tracing lacks.
fn level_filter(level: &str) -> EnvFilter {
    EnvFilter::new(match level {
        "DEBUG" => "debug",
        "WARN" | "WARNING" => "warn",
        "ERROR" | "FATAL" | "CRITICAL" => "error",
        _ => "info",
    })
}

/// Changes the installed logger's level (a reload with a new `log.level`).
type SetLevel = Box<dyn Fn(EnvFilter) -> Result<(), String> + Send + Sync>;

static SET_LEVEL: OnceLock<SetLevel> = OnceLock::new();

/// Applies `log.level` to the logger [`init`] installed.
pub fn set_level(level: &str) -> Result<()> {
    let set = SET_LEVEL
        .get()
        .context("the logger was installed without a level handle")?;
    set(level_filter(level)).map_err(|e| anyhow::anyhow!("cannot change log.level: {e}"))
}

/// Collects an event's message and any other fields (`key=value`) into one line of text.
#[derive(Default)]
struct Message(String);

impl tracing::field::Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let sep = if self.0.is_empty() { "" } else { " " };
        if field.name() == "message" {
            let _ = write!(self.0, "{sep}{value:?}");
        } else {
            let _ = write!(self.0, "{sep}{}={value:?}", field.name());
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            let sep = if self.0.is_empty() { "" } else { " " };
            let _ = write!(self.0, "{sep}{value}");
        } else {
            self.record_debug(field, &value);
        }
    }
}

/// The line format: plain (Patroni's default format) or JSON with `static_fields`.
struct PatroniFormat {
    json: bool,
    static_fields: Map<String, Value>,
}

impl<S, N> FormatEvent<S, N> for PatroniFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> std::fmt::Result {
        let mut message = Message::default();
        event.record(&mut message);
        let asctime = Local::now().format("%Y-%m-%d %H:%M:%S,%3f").to_string();
        // Python's CRITICAL has no tracing level: it is an error logged with target "critical".
        let level = if event.metadata().target() == "critical" {
            "CRITICAL"
        } else {
            level_name(event.metadata().level())
        };
        if self.json {
            let mut record = self.static_fields.clone();
            record.insert("asctime".into(), Value::String(asctime));
            record.insert("levelname".into(), Value::String(level.into()));
            record.insert("message".into(), Value::String(message.0));
            writeln!(w, "{}", Value::Object(record))
        } else {
            writeln!(w, "{asctime} {level}: {}", message.0)
        }
    }
}

/// Installs the global logger described by `log`.
pub fn init(log: &Log) -> Result<()> {
    let format = PatroniFormat {
        json: log.kind == "json",
        static_fields: log.static_fields.clone(),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(level_filter(&log.level))
        .event_format(format);
    // The writer is part of the handle's type, so each branch keeps its own.
    macro_rules! install {
        ($builder:expr) => {{
            let builder = $builder.with_filter_reloading();
            let handle = builder.reload_handle();
            let _ = SET_LEVEL.set(Box::new(move |f| {
                handle.reload(f).map_err(|e| e.to_string())
            }));
            builder.try_init()
        }};
    }
    match &log.dir {
        None => install!(builder.with_writer(std::io::stderr)),
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create log.dir {dir}"))?;
            let file_num = usize::try_from(log.file_num.0.max(1)).unwrap_or(1);
            let file_size = usize::try_from(log.file_size.0.max(1)).unwrap_or(25_000_000);
            let mut options = std::fs::OpenOptions::new();
            options.read(true).create(true).append(true);
            if let Some(mode) = log.mode.and_then(|m| u32::try_from(m).ok()) {
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
            }
            let writer = FileRotate::new(
                Path::new(dir).join("patroni.log"),
                AppendCount::new(file_num),
                ContentLimit::BytesSurpassed(file_size),
                Compression::None,
                Some(options),
            );
            install!(builder.with_writer(Mutex::new(writer)))
        }
    }
    .map_err(|e| anyhow::anyhow!("cannot install the logger: {e}"))
}

/// Logging for commands that run before a configuration is known: Patroni's shape on stderr.
pub fn init_default() -> Result<()> {
    init(&Log::default())
}

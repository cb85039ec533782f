//! The simulated fleet: which Lambda functions exist and how each behaves.
//!
//! Every property that a downstream stage might want to recover is decided
//! here, once, from the seed: the account and log group (what decode and
//! enrich see), the runtime and log format (what parse sees), memory sizes,
//! architecture and the duration model (what price and tune see), and the
//! failure rates (what assemble and judge see). `truth.json` is written from
//! these specs, so a test can compare what the pipeline found with what was
//! put in.
//!
//! The design draws from its own random stream, so that the fleet for a seed
//! is the same whatever the number of invocations.

use serde::Serialize;

/// The language runtimes the generator imitates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Runtime {
    Python,
    Node,
    Java,
    /// A Rust binary on the `provided.al2023` custom runtime.
    Rust,
}

impl Runtime {
    /// The runtime identifier of the Lambda API (`python3.12`, …).
    pub(crate) fn identifier(self) -> &'static str {
        match self {
            Runtime::Python => "python3.12",
            Runtime::Node => "nodejs20.x",
            Runtime::Java => "java21",
            Runtime::Rust => "provided.al2023",
        }
    }

    /// The runtime version INIT_START prints.
    pub(crate) fn version_name(self) -> &'static str {
        match self {
            Runtime::Python => "python:3.12.v38",
            Runtime::Node => "nodejs:20.v45",
            Runtime::Java => "java:21.v30",
            Runtime::Rust => "provided:al2023.v89",
        }
    }

    /// Custom runtimes bill their init phase in the REPORT of a cold start.
    pub(crate) fn bills_init(self) -> bool {
        self == Runtime::Rust
    }

    /// Typical cold init time in milliseconds (low, high).
    fn init_range_ms(self) -> (f64, f64) {
        match self {
            Runtime::Python => (110.0, 450.0),
            Runtime::Node => (130.0, 380.0),
            Runtime::Java => (450.0, 1900.0),
            Runtime::Rust => (14.0, 70.0),
        }
    }

    /// Memory a warm process holds before doing any work (low, high), in MB.
    fn resident_range_mb(self) -> (u32, u32) {
        match self {
            Runtime::Python => (38, 95),
            Runtime::Node => (55, 115),
            Runtime::Java => (90, 190),
            Runtime::Rust => (14, 42),
        }
    }
}

/// Instruction set of the function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Architecture {
    X86_64,
    Arm64,
}

impl Architecture {
    /// The name the Lambda API and lamlog's metadata use.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Architecture::X86_64 => "x86_64",
            Architecture::Arm64 => "arm64",
        }
    }
}

/// `LoggingConfig.LogFormat` of the function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LogFormat {
    Text,
    Json,
}

impl LogFormat {
    /// `text` or `json`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            LogFormat::Text => "text",
            LogFormat::Json => "json",
        }
    }
}

/// Where a text REPORT puts its X-Ray fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum XrayStyle {
    /// Tab-separated on the REPORT line itself, as the developer guide shows.
    Inline,
    /// On a second line of the same event (`…\t\nXRAY TraceId: …`), as CloudWatch delivers it.
    SecondLine,
}

/// `t(m) = a + b / min(m, 1769) + c / min(m, 10240)` in milliseconds, where
/// `m` is the memory size in MB. `a` is time that no CPU buys back (I/O), `b`
/// is single-threaded work (one vCPU is reached at 1,769 MB), `c` is work that
/// keeps using the extra vCPUs up to 10,240 MB.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub(crate) struct DurationModel {
    pub(crate) a_ms: f64,
    pub(crate) b_ms_mb: f64,
    pub(crate) c_ms_mb: f64,
}

impl DurationModel {
    /// The median duration of a successful invocation at this memory size.
    pub(crate) fn median_ms(&self, memory_size_mb: u32) -> f64 {
        let memory = f64::from(memory_size_mb);
        self.a_ms + self.b_ms_mb / memory.min(1769.0) + self.c_ms_mb / memory.min(10240.0)
    }
}

/// Per-invocation probabilities of each failure.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct FailureRates {
    pub(crate) error: f64,
    pub(crate) timeout: f64,
    pub(crate) oom: f64,
    pub(crate) crash: f64,
}

/// Everything decided about one function before the first invocation.
#[derive(Debug, Clone)]
pub(crate) struct FunctionSpec {
    pub(crate) account: String,
    pub(crate) name: String,
    pub(crate) log_group: String,
    pub(crate) custom_log_group: bool,
    pub(crate) region: &'static str,
    pub(crate) runtime: Runtime,
    pub(crate) runtime_version_arn: String,
    pub(crate) architecture: Architecture,
    pub(crate) log_format: LogFormat,
    /// `$LATEST`, or a published version number for SnapStart functions.
    pub(crate) version: String,
    /// One size, or two when the function is reconfigured mid-run.
    pub(crate) memory_sizes_mb: Vec<u32>,
    /// When the second memory size takes over, as a fraction of the run
    /// (with more than two sizes, the run is split evenly between them).
    pub(crate) memory_change_fraction: f64,
    pub(crate) model: DurationModel,
    /// Standard deviation of the log of the multiplicative noise.
    pub(crate) noise_sigma: f64,
    pub(crate) timeout_seconds: u32,
    pub(crate) rate_per_second: f64,
    pub(crate) snap_start: bool,
    pub(crate) xray: Option<XrayStyle>,
    /// Newer text REPORTs carry `Status: error` for function errors; older ones did not.
    pub(crate) report_status_on_error: bool,
    /// JSON key order is not stable in real logs: `status` before or after `metrics`.
    pub(crate) json_status_first: bool,
    pub(crate) extensions: &'static [&'static str],
    pub(crate) init_range_ms: (f64, f64),
    pub(crate) resident_memory_mb: u32,
    /// Megabytes each invocation leaves behind in its execution environment
    /// (0: none), until the environment runs out of memory.
    pub(crate) leak_mb_per_invocation: f64,
    pub(crate) failures: FailureRates,
    pub(crate) tenant: &'static str,
    pub(crate) team: &'static str,
    pub(crate) has_metadata: bool,
    /// Application messages; `#` stands for a number.
    pub(crate) messages: &'static [&'static str; 3],
    /// A Java class name or Rust crate target for plain-text app lines.
    pub(crate) logger: &'static str,
}

struct CatalogEntry {
    base: &'static str,
    team: &'static str,
    logger: &'static str,
    messages: [&'static str; 3],
}

const fn entry(
    base: &'static str,
    team: &'static str,
    logger: &'static str,
    messages: [&'static str; 3],
) -> CatalogEntry {
    CatalogEntry {
        base,
        team,
        logger,
        messages,
    }
}

#[rustfmt::skip]
const CATALOG: [CatalogEntry; 16] = [
    entry("orders-api", "checkout", "OrderHandler", ["received order #", "order # stored in dynamodb", "charged card for order #"]),
    entry("image-resize", "media", "ResizeHandler", ["resizing s3://uploads/img-#.jpg", "wrote # bytes to s3://thumbs", "cache miss for width #"]),
    entry("payment-webhook", "payments", "WebhookHandler", ["webhook event evt_# verified", "payment intent pi_# succeeded", "acknowledged in # ms"]),
    entry("email-sender", "messaging", "MailHandler", ["queued email #", "smtp accepted message #", "suppression list has # entries"]),
    entry("user-auth", "identity", "AuthHandler", ["token issued for user #", "session # refreshed", "jwks cache age # s"]),
    entry("report-builder", "analytics", "ReportHandler", ["building report #", "query returned # rows", "uploaded report #"]),
    entry("inventory-sync", "supply", "InventoryHandler", ["syncing # skus", "sku # updated", "batch # committed"]),
    entry("search-indexer", "search", "IndexHandler", ["indexed # documents", "shard # refreshed", "bulk request # ok"]),
    entry("pdf-render", "documents", "RenderHandler", ["rendering invoice #", "rendered # pages", "stored invoice #"]),
    entry("notification-fanout", "messaging", "FanoutHandler", ["fan-out to # subscribers", "sns publish # ok", "dropped # stale tokens"]),
    entry("cart-service", "checkout", "CartHandler", ["cart # loaded", "added item # to cart", "cart # saved"]),
    entry("geo-lookup", "platform", "GeoHandler", ["lookup for client #", "cache hits so far: #", "resolved region #"]),
    entry("audit-writer", "security", "AuditHandler", ["wrote audit event #", "put # records to firehose", "checkpoint #"]),
    entry("session-cleanup", "identity", "CleanupHandler", ["scanning # sessions", "deleted # expired sessions", "scan page #"]),
    entry("etl-nightly", "analytics", "EtlHandler", ["extracting partition #", "transformed # rows", "loaded # rows"]),
    entry("thumbnail-gen", "media", "ThumbnailHandler", ["generating thumbnail #", "decoded # pixels", "thumbnail # done"]),
];

const TENANTS: [&str; 5] = ["acme", "globex", "initech", "umbrella", "hooli"];
const MEMORY_CHOICES_MB: [u32; 12] = [
    128, 128, 256, 512, 512, 1024, 1536, 1769, 2048, 3008, 4096, 10240,
];
const TIMEOUT_CHOICES_S: [u32; 7] = [3, 5, 6, 10, 15, 20, 30];
const EXTENSION_SETS: [&[&str]; 3] = [
    &[],
    &["AWSParametersAndSecretsLambdaExtension"],
    &["datadog-agent"],
];

/// Draws a log-uniform value in `[low, high)`.
pub(crate) fn log_uniform(rng: &mut fastrand::Rng, low: f64, high: f64) -> f64 {
    (low.ln() + rng.f64() * (high.ln() - low.ln())).exp()
}

/// Draws a uniform value in `[low, high)`.
pub(crate) fn uniform(rng: &mut fastrand::Rng, low: f64, high: f64) -> f64 {
    low + rng.f64() * (high - low)
}

/// Appends `count` lowercase hex digits.
pub(crate) fn push_hex(rng: &mut fastrand::Rng, count: usize, out: &mut String) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for _ in 0..count {
        out.push(char::from(DIGITS[rng.usize(..16)]));
    }
}

/// Designs `function_count` functions spread over `account_count` accounts.
pub(crate) fn design(seed: u64, function_count: usize, account_count: usize) -> Vec<FunctionSpec> {
    let mut rng = fastrand::Rng::with_seed(seed ^ 0x6675_6e63_7469_6f6e);
    let mut accounts: Vec<String> = Vec::with_capacity(account_count);
    while accounts.len() < account_count {
        let id = format!("{}", rng.u64(100_000_000_000..1_000_000_000_000));
        if !accounts.contains(&id) {
            accounts.push(id);
        }
    }
    let region = "us-east-1";
    let runtime_arns: Vec<String> = (0..4)
        .map(|_| {
            let mut arn = format!("arn:aws:lambda:{region}::runtime:");
            push_hex(&mut rng, 64, &mut arn);
            arn
        })
        .collect();

    (0..function_count)
        .map(|index| {
            let catalog = &CATALOG[index % CATALOG.len()];
            let account_index = index % account_count.max(1);
            let runtime = match rng.u32(0..100) {
                0..=34 => Runtime::Python,
                35..=64 => Runtime::Node,
                65..=79 => Runtime::Java,
                _ => Runtime::Rust,
            };
            let runtime_version_arn = runtime_arns[runtime as usize].clone();
            let name = format!("{}-{index}", catalog.base);
            let custom_log_group = index == 0;
            let log_group = if custom_log_group {
                format!("/custom/{}", catalog.base)
            } else {
                format!("/aws/lambda/{name}")
            };
            let architecture = if rng.u32(0..100) < 40 {
                Architecture::Arm64
            } else {
                Architecture::X86_64
            };
            let log_format = if rng.u32(0..100) < 30 {
                LogFormat::Json
            } else {
                LogFormat::Text
            };
            let snap_start = runtime == Runtime::Java && rng.bool();
            let version = if snap_start {
                rng.u32(1..=24).to_string()
            } else {
                "$LATEST".to_string()
            };
            let first_memory = MEMORY_CHOICES_MB[rng.usize(..MEMORY_CHOICES_MB.len())];
            let mut memory_sizes_mb = vec![first_memory];
            // A quarter of functions change memory once; one in ten is swept
            // through four sizes, as someone tuning by hand would, which gives
            // the tuner enough sizes to be checked on sizes it did not see.
            let sizes = match rng.u32(0..100) {
                0..25 => 2,
                25..35 => 4,
                _ => 1,
            };
            while memory_sizes_mb.len() < sizes {
                let next = MEMORY_CHOICES_MB[rng.usize(..MEMORY_CHOICES_MB.len())];
                if !memory_sizes_mb.contains(&next) {
                    memory_sizes_mb.push(next);
                }
            }
            let memory_change_fraction = uniform(&mut rng, 0.25, 0.75);
            let (model, timeout_seconds) = design_model(&mut rng, runtime, &memory_sizes_mb);
            let xray = match rng.u32(0..100) {
                0..=14 => Some(XrayStyle::Inline),
                15..=29 => Some(XrayStyle::SecondLine),
                _ => None,
            };
            let extensions = match rng.u32(0..100) {
                0..=64 => EXTENSION_SETS[0],
                65..=84 => EXTENSION_SETS[1],
                _ => EXTENSION_SETS[2],
            };
            let (init_low, init_high) = runtime.init_range_ms();
            let init_extra = if extensions.is_empty() { 0.0 } else { 120.0 };
            let (resident_low, resident_high) = runtime.resident_range_mb();
            let min_memory = memory_sizes_mb.iter().copied().min().unwrap_or(128);
            let resident_memory_mb = rng
                .u32(resident_low..=resident_high)
                .min(min_memory * 3 / 4);
            FunctionSpec {
                account: accounts[account_index].clone(),
                name,
                log_group,
                custom_log_group,
                region,
                runtime,
                runtime_version_arn,
                architecture,
                log_format,
                version,
                memory_sizes_mb,
                memory_change_fraction,
                model,
                noise_sigma: 0.1,
                timeout_seconds,
                rate_per_second: log_uniform(&mut rng, 0.3, 4.0),
                snap_start,
                xray,
                report_status_on_error: rng.u32(0..100) < 60,
                json_status_first: rng.bool(),
                extensions,
                init_range_ms: (init_low + init_extra, init_high + init_extra),
                resident_memory_mb,
                leak_mb_per_invocation: 0.0,
                failures: FailureRates {
                    error: uniform(&mut rng, 0.0, 0.04),
                    timeout: uniform(&mut rng, 0.0, 0.01),
                    oom: uniform(&mut rng, 0.0, 0.006),
                    crash: uniform(&mut rng, 0.0, 0.002),
                },
                tenant: TENANTS[account_index % TENANTS.len()],
                team: catalog.team,
                has_metadata: custom_log_group || rng.u32(0..100) >= 10,
                messages: &catalog.messages,
                logger: catalog.logger,
            }
        })
        .collect()
}

/// Draws a duration model and the smallest timeout that leaves the slowest
/// memory size a wide margin, so that timeouts come only from the failure mix.
fn design_model(
    rng: &mut fastrand::Rng,
    runtime: Runtime,
    memory_sizes_mb: &[u32],
) -> (DurationModel, u32) {
    let slow_start = if runtime == Runtime::Java { 20.0 } else { 0.0 };
    let mut model = DurationModel {
        a_ms: uniform(rng, 2.0, 60.0) + slow_start,
        b_ms_mb: log_uniform(rng, 2.0e3, 2.0e5),
        c_ms_mb: if rng.u32(0..100) < 30 {
            0.0
        } else {
            log_uniform(rng, 1.0e4, 5.0e5)
        },
    };
    let slowest_memory = memory_sizes_mb.iter().copied().min().unwrap_or(128);
    let headroom = |model: &DurationModel| model.median_ms(slowest_memory) * 2.0 + 500.0;
    let longest_timeout_ms = 1000.0 * f64::from(TIMEOUT_CHOICES_S[TIMEOUT_CHOICES_S.len() - 1]);
    while headroom(&model) > longest_timeout_ms {
        model.b_ms_mb /= 2.0;
        model.c_ms_mb /= 2.0;
    }
    let fitting = TIMEOUT_CHOICES_S
        .iter()
        .position(|&seconds| f64::from(seconds) * 1000.0 >= headroom(&model))
        .unwrap_or(TIMEOUT_CHOICES_S.len() - 1);
    let chosen = (fitting + rng.usize(0..2)).min(TIMEOUT_CHOICES_S.len() - 1);
    (model, TIMEOUT_CHOICES_S[chosen])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn design_is_reproducible_and_varied() {
        let first = design(7, 40, 3);
        let second = design(7, 40, 3);
        assert_eq!(format!("{first:?}"), format!("{second:?}"));
        assert_eq!(first[0].log_group, "/custom/orders-api");
        assert!(first[1].log_group.starts_with("/aws/lambda/image-resize-1"));
        let accounts: std::collections::BTreeSet<_> = first.iter().map(|f| &f.account).collect();
        assert_eq!(accounts.len(), 3);
        assert!(accounts.iter().all(|a| a.len() == 12));
        for runtime in [Runtime::Python, Runtime::Node, Runtime::Java, Runtime::Rust] {
            assert!(
                first.iter().any(|f| f.runtime == runtime),
                "{runtime:?} missing"
            );
        }
        assert!(first.iter().any(|f| f.log_format == LogFormat::Json));
        assert!(first.iter().any(|f| f.architecture == Architecture::Arm64));
        assert!(first.iter().any(|f| f.memory_sizes_mb.len() == 2));
        for function in &first {
            let min_memory = function.memory_sizes_mb.iter().copied().min().unwrap();
            let slowest = function.model.median_ms(min_memory);
            assert!(slowest * 2.0 < f64::from(function.timeout_seconds) * 1000.0);
            assert!(function.resident_memory_mb < min_memory);
        }
    }
}

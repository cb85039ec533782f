//! A moto server for one test: started on a free loopback port, killed on drop.
//!
//! The tests need it; when `moto_server` is missing they fail, they never
//! skip (`pip install 'moto[server]'`). This is the project's one moto
//! start-up: `lamlog-bench` includes this file as its own module.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lamlog::aws::{sdk_config, AwsOptions};

/// A running `moto_server -H 127.0.0.1 -p PORT`.
pub struct Moto {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
}

impl Moto {
    /// Starts moto and waits until it accepts connections; panics with
    /// the reason when it cannot, as a test must fail, never skip.
    pub fn start() -> Moto {
        Moto::try_start().unwrap_or_else(|reason| panic!("{reason}"))
    }

    /// Starts moto and waits (up to 30 s) until it accepts connections, or
    /// says why it could not. `lamlog-bench` starts its moto with this too.
    pub fn try_start() -> Result<Moto, String> {
        // Set only where the environment does not already say so (CI does):
        // the tests of every file share this process, and a change to the
        // environment races with C code reading it on other threads.
        if std::env::var("AWS_EC2_METADATA_DISABLED").as_deref() != Ok("true") {
            std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .map_err(|error| format!("finding a free loopback port: {error}"))?
            .port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|error| {
                format!("moto_server must be installed: pip install 'moto[server]' ({error})")
            })?;
        // Made first, so that the server is killed if it never listens.
        let moto = Moto {
            child: Some(child),
            endpoint: format!("http://127.0.0.1:{port}"),
        };
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if started.elapsed() > Duration::from_secs(30) {
                return Err(format!(
                    "moto_server did not listen on port {port} within 30 s"
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(moto)
    }

    /// The SDK configuration of a client that talks to this server only.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        sdk_config(&AwsOptions {
            region: Some("us-east-1".to_owned()),
            endpoint_url: Some(self.endpoint.clone()),
            static_credentials: Some(("testing".to_owned(), "testing".to_owned())),
            connect_timeout: Duration::from_millis(500),
            attempt_timeout: Duration::from_secs(5),
            operation_timeout: Duration::from_secs(10),
            max_attempts: 1,
        })
        .await
    }

    /// Kills the server (for tests of an outage).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.stop();
    }
}

//! A private RabbitMQ node per test: its own ports, data folder, Erlang cookie and
//! `max_message_size`, so a test can really stop and restart the broker, or change its
//! limits, without touching the shared node on 5672.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lapin::options::{BasicGetOptions, BasicPublishOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection, ConnectionProperties};

use super::{free_port, scratch};

const SERVER: &str = "/usr/lib/rabbitmq/bin/rabbitmq-server";

/// A connection, or None. lapin's connect can wait forever on a broker that is
/// starting or stopping, so it is bounded (the worker bounds its own the same way).
pub async fn connect(url: &str) -> Option<Connection> {
    let c = Connection::connect(url, ConnectionProperties::default());
    tokio::time::timeout(Duration::from_secs(10), c)
        .await
        .ok()?
        .ok()
}
const CTL: &str = "/usr/lib/rabbitmq/bin/rabbitmqctl";

pub struct PrivateRabbit {
    pub port: u16,
    pub url: String,
    node: String,
    dir: PathBuf,
    child: Option<Child>,
}

impl PrivateRabbit {
    /// Boots a node with the given `max_message_size` and waits until it accepts
    /// connections.
    pub async fn start(test: &str, max_message_size: u64) -> PrivateRabbit {
        assert!(
            std::path::Path::new(SERVER).exists(),
            "{SERVER} missing: install Debian's rabbitmq-server (scripts/dev-services does)"
        );
        let dir = scratch(&format!("rabbit-{test}"));
        let port = free_port();
        std::fs::write(
            dir.join("rabbitmq.conf"),
            format!(
                "listeners.tcp.default = 127.0.0.1:{port}\nmax_message_size = {max_message_size}\n\
                 log.console = false\nlog.file.level = warning\n"
            ),
        )
        .unwrap();
        std::fs::write(dir.join("enabled_plugins"), "[].\n").unwrap();
        let mut r = PrivateRabbit {
            port,
            url: format!("amqp://guest:guest@127.0.0.1:{port}/%2f"),
            node: format!("dashpack-{test}-{}@localhost", std::process::id()),
            dir,
            child: None,
        };
        r.boot().await;
        r
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        let dist = free_port();
        cmd.current_dir(&self.dir)
            .env("HOME", &self.dir)
            .env("RABBITMQ_NODENAME", &self.node)
            .env("RABBITMQ_NODE_PORT", self.port.to_string())
            .env("RABBITMQ_DIST_PORT", dist.to_string())
            .env("RABBITMQ_MNESIA_BASE", self.dir.join("mnesia"))
            .env("RABBITMQ_LOG_BASE", self.dir.join("log"))
            .env("RABBITMQ_CONFIG_FILE", self.dir.join("rabbitmq.conf"))
            .env(
                "RABBITMQ_ENABLED_PLUGINS_FILE",
                self.dir.join("enabled_plugins"),
            )
            .env("RABBITMQ_PID_FILE", self.dir.join("pid"));
        cmd
    }

    /// Starts the node (on the same data folder: durable queues and persistent
    /// messages survive a restart) and waits for its AMQP port.
    pub async fn boot(&mut self) {
        assert!(self.child.is_none(), "already running");
        let log = std::fs::File::create(self.dir.join("server.log")).unwrap();
        let child = self
            .command(SERVER)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let start = Instant::now();
        loop {
            if connect(&self.url).await.is_some() {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "private RabbitMQ did not start; log:\n{}",
                std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops the node the way an operator would (`rabbitmqctl stop`): connections are
    /// closed by the broker, unacked messages return to their queues.
    pub async fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        self.ctl(&["stop"]);
        let start = Instant::now();
        while child.try_wait().unwrap().is_none() {
            if start.elapsed() > Duration::from_secs(30) {
                kill_group(&child);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn restart(&mut self) {
        self.stop().await;
        self.boot().await;
    }

    /// Runs `rabbitmqctl ARGS` against this node; true when it succeeded.
    pub fn ctl(&self, args: &[&str]) -> bool {
        self.command(CTL)
            .args(["-n", &self.node])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// `rabbitmqctl ARGS`' standard output (empty when it failed).
    pub fn ctl_output(&self, args: &[&str]) -> String {
        self.command(CTL)
            .args(["-n", &self.node])
            .args(args)
            .stderr(Stdio::null())
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    /// The delivery acknowledgement timeout (`consumer_timeout`) for channels opened
    /// from now on, checked five times a second instead of once a minute.
    pub fn set_consumer_timeout(&self, ms: u64) {
        let expr = format!(
            "application:set_env(rabbit, consumer_timeout, {ms}), \
             application:set_env(rabbit, channel_tick_interval, 200)."
        );
        assert!(self.ctl(&["eval", &expr]), "rabbitmqctl eval");
    }

    /// Changes the limit for channels opened from now on (open ones keep theirs).
    pub fn set_max_message_size(&self, bytes: u64) {
        let expr = format!("application:set_env(rabbit, max_message_size, {bytes}).");
        assert!(self.ctl(&["eval", &expr]), "rabbitmqctl eval");
    }

    /// Closes every client connection from the broker's side.
    pub fn close_all_connections(&self) {
        assert!(
            self.ctl(&["close_all_connections", "test closes connections"]),
            "rabbitmqctl close_all_connections"
        );
    }

    pub async fn connect(&self) -> Connection {
        connect(&self.url)
            .await
            .expect("connect to the private broker")
    }

    /// Publishes a persistent message to a queue by the default exchange; false when
    /// the broker refused it or is unreachable.
    pub async fn publish(&self, queue: &str, body: &[u8]) -> bool {
        let Some(conn) = connect(&self.url).await else {
            return false;
        };
        let Ok(ch) = conn.create_channel().await else {
            return false;
        };
        if ch.confirm_select(Default::default()).await.is_err() {
            return false;
        }
        let sent = match ch
            .basic_publish(
                "".into(),
                queue.into(),
                BasicPublishOptions {
                    mandatory: true,
                    ..Default::default()
                },
                body,
                BasicProperties::default().with_delivery_mode(2),
            )
            .await
        {
            Ok(confirm) => confirm
                .await
                .is_ok_and(|c| c.is_ack() && c.take_message().is_none()),
            Err(_) => false,
        };
        let _ = conn.close(200, "done".into()).await;
        sent
    }

    /// Messages waiting in `queue`, or None when it does not exist (or the broker is down).
    pub async fn depth(&self, queue: &str) -> Option<u32> {
        let conn = connect(&self.url).await?;
        let ch = conn.create_channel().await.ok()?;
        let passive = QueueDeclareOptions {
            passive: true,
            ..Default::default()
        };
        let n = ch
            .queue_declare(queue.into(), passive, FieldTable::default())
            .await
            .ok()
            .map(|q| q.message_count());
        let _ = conn.close(200, "done".into()).await;
        n
    }
}

fn kill_group(child: &Child) {
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .status();
}

impl Drop for PrivateRabbit {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if !self.ctl(&["stop"]) {
                kill_group(&child);
            }
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Takes every message now in `queue` on the broker at `url` (none while it is down).
pub async fn drain(url: &str, queue: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    // Bounded as a whole (a broker going down mid-way); what was taken is kept.
    let take = async {
        let Some(conn) = connect(url).await else {
            return;
        };
        if let Ok(ch) = conn.create_channel().await {
            while let Ok(Some(m)) = ch
                .basic_get(queue.into(), BasicGetOptions { no_ack: true })
                .await
            {
                out.push(m.delivery.data.clone());
            }
        }
        let _ = conn.close(200, "done".into()).await;
    };
    let _ = tokio::time::timeout(Duration::from_secs(20), take).await;
    out
}

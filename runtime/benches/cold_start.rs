//! Cold start of the release `bootstrap`: exec → first response, under a minimal local Lambda
//! Runtime API, N times. Next to it, the Python equivalent's interpreter start + imports + client
//! creation (runtime/benches/python/init.py), when the bench venv exists.
//!
//! What it measures, per run:
//! - `init`: exec until the first `GET /2018-06-01/runtime/invocation/next` (settings read, SDK
//!   config loaded, clients built, JWKS client built; nothing fetched);
//! - `first response`: exec until the `POST …/response` of the first event, an unauthenticated
//!   `GET /` (the web page: needs no network). `AWS_ENDPOINT_URL` points at a dead local port,
//!   so anything that tried the network at init would show up as an error or a delay;
//! - `max RSS`: the process's VmHWM from /proc once it has answered.
//!
//! scripts/build-runtime && cargo bench -p bucketdrive-runtime --bench cold_start
//! Environment: BUCKETDRIVE_BOOTSTRAP (default target/x86_64-unknown-linux-musl/release/bootstrap),
//! COLD_START_RUNS (default 50), BUCKETDRIVE_BENCH_PYTHON (default .venv-bench/bin/python).
//! Writes target/bench/cold_start.json.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const NEXT: &str = "/2018-06-01/runtime/invocation/next";
const REQUEST_ID: &str = "8476a536-e9f4-11e8-9739-2dfe598c3fcd";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// An unauthenticated `GET /` as API Gateway v2 sends it.
fn event() -> String {
    serde_json::json!({
        "version": "2.0", "routeKey": "$default", "rawPath": "/", "rawQueryString": "",
        "headers": {"accept": "text/html", "host": "a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com",
                    "user-agent": "cold-start-bench/1.0"},
        "requestContext": {"accountId": "123456789012", "apiId": "a1b2c3d4e5",
            "domainName": "a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com", "domainPrefix": "a1b2c3d4e5",
            "http": {"method": "GET", "path": "/", "protocol": "HTTP/1.1", "sourceIp": "203.0.113.7",
                     "userAgent": "cold-start-bench/1.0"},
            "requestId": "cold-start-1", "routeKey": "$default", "stage": "$default",
            "time": "04/Dec/2026:16:05:50 +0000", "timeEpoch": 1796400350000_i64},
        "isBase64Encoded": false
    })
    .to_string()
}

enum Seen {
    Next(Instant),
    Response(Instant, String),
    Error(String),
}

/// Reads one HTTP/1.1 request (Content-Length or chunked body). None at end of stream.
fn read_request(reader: &mut BufReader<TcpStream>) -> Option<(String, String, Vec<u8>)> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();
    let mut length = 0usize;
    let mut chunked = false;
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (name, value) = h.split_once(':')?;
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => length = value.trim().parse().ok()?,
            "transfer-encoding" => chunked = value.to_ascii_lowercase().contains("chunked"),
            _ => {}
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).ok()?;
            let n = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
            let mut chunk = vec![0; n + 2];
            reader.read_exact(&mut chunk).ok()?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    } else {
        body.resize(length, 0);
        reader.read_exact(&mut body).ok()?;
    }
    Some((method, path, body))
}

fn serve(stream: TcpStream, seen: mpsc::Sender<Seen>, event: String) {
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    let mut served = false;
    while let Some((method, path, body)) = read_request(&mut reader) {
        let now = Instant::now();
        if method == "GET" && path == NEXT {
            let _ = seen.send(Seen::Next(now));
            if served {
                // Hold the second long-poll open: the bench kills the process.
                std::thread::sleep(Duration::from_secs(30));
                return;
            }
            served = true;
            let deadline = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_millis()
                + 30_000;
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
                 Lambda-Runtime-Aws-Request-Id: {REQUEST_ID}\r\nLambda-Runtime-Deadline-Ms: {deadline}\r\n\
                 Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:eu-west-1:123456789012:function:bench\r\n\r\n",
                event.len()
            );
            // The run is over once the first response is in: the process is killed while it
            // waits for its second event, so this write may find the connection closed.
            if writer.write_all(head.as_bytes()).is_err()
                || writer.write_all(event.as_bytes()).is_err()
            {
                return;
            }
        } else if method == "POST" && path.ends_with("/response") {
            let _ = seen.send(Seen::Response(
                now,
                String::from_utf8_lossy(&body).into_owned(),
            ));
            writer
                .write_all(b"HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\n{}")
                .unwrap();
        } else {
            let _ = seen.send(Seen::Error(format!(
                "{method} {path}: {}",
                String::from_utf8_lossy(&body)
            )));
            writer
                .write_all(b"HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\n{}")
                .unwrap();
        }
    }
}

/// A port nothing listens on.
fn dead_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

struct Run {
    init: Duration,
    first_response: Duration,
    rss_kib: u64,
}

fn run_once(bootstrap: &Path, home: &Path) -> Run {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let api = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::channel();
    let event = event();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let tx = tx.clone();
            let event = event.clone();
            std::thread::spawn(move || serve(stream, tx, event));
        }
    });
    let endpoint = format!("http://127.0.0.1:{}", dead_port());
    let started = Instant::now();
    let mut child: Child = Command::new(bootstrap)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", home)
        .env("AWS_LAMBDA_RUNTIME_API", api.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "bench")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .env("AWS_REGION", "eu-west-1")
        .env("AWS_DEFAULT_REGION", "eu-west-1")
        .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .env("AWS_SESSION_TOKEN", "token")
        .env("AWS_ENDPOINT_URL", &endpoint)
        .env("BD_MODE", "api")
        .env("BD_STACK", "bench")
        .env("BD_POLICIES_TABLE", "bench-policies")
        .env("BD_AUDIT_TABLE", "bench-audit")
        .env(
            "BD_ISSUER",
            "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_BENCH",
        )
        .env("BD_CLIENT_ID", "client-1")
        .env(
            "BD_JWKS_URL",
            format!("{endpoint}/eu-west-1_BENCH/.well-known/jwks.json"),
        )
        .env("BD_AUTH_BASE_URL", "http://auth.invalid")
        .env("BD_URL_TTL_SECONDS", "600")
        .env("BD_MAX_UPLOAD_BYTES", "5368709120")
        .env("BD_AUDIT_RETENTION_DAYS", "400")
        .env("BD_BUCKETS", "company-reports@eu-west-1")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut init = None;
    let result = loop {
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(Seen::Next(t)) if init.is_none() => init = Some(t - started),
            Ok(Seen::Next(_)) => {}
            Ok(Seen::Response(t, body)) => {
                let v: serde_json::Value = serde_json::from_str(&body).unwrap();
                assert_eq!(v["statusCode"], 200, "{body}");
                break t - started;
            }
            Ok(Seen::Error(e)) => {
                let _ = child.kill();
                panic!("the bootstrap reported an error: {e}");
            }
            Err(_) => {
                let _ = child.kill();
                let mut err = String::new();
                child
                    .stderr
                    .take()
                    .unwrap()
                    .read_to_string(&mut err)
                    .unwrap();
                panic!("no response within 20 s; stderr:\n{err}");
            }
        }
    };
    let rss_kib = vm_hwm_kib(child.id()).unwrap_or(0);
    let _ = child.kill();
    let _ = child.wait();
    Run {
        init: init.unwrap(),
        first_response: result,
        rss_kib,
    }
}

fn python_once(python: &Path, script: &Path) -> (Duration, f64, u64) {
    let started = Instant::now();
    let out = Command::new(python)
        .arg(script)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("AWS_REGION", "eu-west-1")
        .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .env(
            "AWS_ENDPOINT_URL",
            format!("http://127.0.0.1:{}", dead_port()),
        )
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let wall = started.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    (
        wall,
        v["import_and_init_ms"].as_f64().unwrap(),
        v["max_rss_kib"].as_u64().unwrap(),
    )
}

fn stats(mut v: Vec<f64>) -> serde_json::Value {
    v.sort_by(f64::total_cmp);
    let pct = |p: f64| v[((v.len() as f64 - 1.0) * p).round() as usize];
    serde_json::json!({
        "n": v.len(), "min": v[0], "median": pct(0.5), "p95": pct(0.95), "max": v[v.len() - 1],
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    // `cargo bench` passes `--bench` (and filters); this bench takes none of them.
    let root = root();
    let bootstrap = std::env::var_os("BUCKETDRIVE_BOOTSTRAP")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/x86_64-unknown-linux-musl/release/bootstrap"));
    if !bootstrap.is_file() {
        eprintln!(
            "cold_start: {} is missing; build it with scripts/build-runtime",
            bootstrap.display()
        );
        std::process::exit(1);
    }
    let runs: usize = std::env::var("COLD_START_RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(50);
    let home = std::env::temp_dir().join(format!("bd-cold-start-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();

    for _ in 0..3 {
        run_once(&bootstrap, &home); // warm the page cache
    }
    let all: Vec<Run> = (0..runs).map(|_| run_once(&bootstrap, &home)).collect();
    let init = stats(all.iter().map(|r| ms(r.init)).collect());
    let first = stats(all.iter().map(|r| ms(r.first_response)).collect());
    let rss = stats(all.iter().map(|r| r.rss_kib as f64 / 1024.0).collect());
    let size = std::fs::metadata(&bootstrap).map(|m| m.len()).unwrap_or(0);
    println!(
        "bootstrap {} ({:.1} MiB), {runs} runs",
        bootstrap.display(),
        size as f64 / 1048576.0
    );
    println!(
        "  exec → init done (first /next):  median {:.2} ms  p95 {:.2} ms  max {:.2} ms",
        init["median"].as_f64().unwrap(),
        init["p95"].as_f64().unwrap(),
        init["max"].as_f64().unwrap()
    );
    println!(
        "  exec → first response (GET /):   median {:.2} ms  p95 {:.2} ms  max {:.2} ms",
        first["median"].as_f64().unwrap(),
        first["p95"].as_f64().unwrap(),
        first["max"].as_f64().unwrap()
    );
    println!(
        "  max RSS (VmHWM):                 median {:.1} MiB  max {:.1} MiB",
        rss["median"].as_f64().unwrap(),
        rss["max"].as_f64().unwrap()
    );
    let mut report = serde_json::json!({
        "bootstrap": bootstrap.display().to_string(), "bootstrap_bytes": size,
        "init_ms": init, "first_response_ms": first, "max_rss_mib": rss,
    });

    let python = std::env::var_os("BUCKETDRIVE_BENCH_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join(".venv-bench/bin/python"));
    let script = root.join("runtime/benches/python/init.py");
    if python.is_file() {
        for _ in 0..3 {
            python_once(&python, &script);
        }
        let py: Vec<_> = (0..runs).map(|_| python_once(&python, &script)).collect();
        let wall = stats(py.iter().map(|p| ms(p.0)).collect());
        let inner = stats(py.iter().map(|p| p.1).collect());
        let prss = stats(py.iter().map(|p| p.2 as f64 / 1024.0).collect());
        println!(
            "python {} (runtime/benches/python/init.py), {runs} runs",
            python.display()
        );
        println!(
            "  exec → imports + clients done:   median {:.2} ms  p95 {:.2} ms  max {:.2} ms",
            wall["median"].as_f64().unwrap(),
            wall["p95"].as_f64().unwrap(),
            wall["max"].as_f64().unwrap()
        );
        println!(
            "  of which import + init (in-process): median {:.2} ms",
            inner["median"].as_f64().unwrap()
        );
        println!(
            "  max RSS:                         median {:.1} MiB",
            prss["median"].as_f64().unwrap()
        );
        report["python"] = serde_json::json!({
            "exec_to_init_done_ms": wall, "import_and_init_ms": inner, "max_rss_mib": prss,
        });
    } else {
        println!(
            "python: {} not found; create it with scripts/bench --setup",
            python.display()
        );
    }
    let out = root.join("target/bench");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(
        out.join("cold_start.json"),
        serde_json::to_string_pretty(&report).unwrap(),
    )
    .unwrap();
    let _ = std::fs::remove_dir_all(&home);
}

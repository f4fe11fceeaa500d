//! V2 over gRPC (`serve --grpc-listen`) through the generated tonic client: the same
//! answers as HTTP, the same routing (sticky keys, canary split), the same prediction log
//! and metrics, and gRPC status codes for refusals. The official Python client
//! (`tritonclient.grpc`) is exercised in interop/test_interop.py.

use crate::common;

use std::collections::HashMap;

use crate::common::{Server, deploy, samples};
use mlctl::wire::grpc::inference::grpc_inference_service_client::GrpcInferenceServiceClient;
use mlctl::wire::grpc::inference::*;
use mlctl::wire::grpc::{request_to_proto, response_from_proto};
use mlctl::wire::v2::{self, InferRequest};
use tonic::transport::Channel;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn client(s: &Server) -> GrpcInferenceServiceClient<Channel> {
    let addr = s.grpc.clone().expect("serve printed its gRPC address");
    let ch = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    GrpcInferenceServiceClient::new(ch)
}

/// The fixture's sample input as a V2 JSON body.
fn request_body(model: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({"inputs": [samples(model)["input"]]})).unwrap()
}

/// POST a JSON body: the status and the answer's bytes.
async fn post_json(http: &reqwest::Client, url: String, body: Vec<u8>) -> (u16, bytes::Bytes) {
    let r = http
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.bytes().await.unwrap())
}

/// The fixture's sample request, as the gateway's request.
fn sample_request(model: &str) -> InferRequest {
    let body = request_body(model);
    v2::parse_request(&body, None).unwrap()
}

fn infer_req(
    model: &str,
    version: Option<&str>,
    req: &InferRequest,
    raw: bool,
    key: Option<&str>,
) -> tonic::Request<ModelInferRequest> {
    let mut r = tonic::Request::new(request_to_proto(model, version, req, raw));
    if let Some(k) = key {
        r.metadata_mut().insert("x-mlctl-key", k.parse().unwrap());
    }
    r
}

#[test]
fn grpc_answers_route_and_log_like_http() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(
        dir.path(),
        &["--grpc-listen", "127.0.0.1:0", "--controller-tick", "100ms"],
    );
    common::deploy_half_canary(&s);
    let req = sample_request("churn_lr");
    let http = reqwest::Client::new();
    let rt = rt();
    rt.block_on(async {
        let mut c = client(&s).await;
        assert!(c.server_live(ServerLiveRequest {}).await.unwrap().into_inner().live);
        assert!(c.server_ready(ServerReadyRequest {}).await.unwrap().into_inner().ready);
        let meta = c
            .model_metadata(ModelMetadataRequest {
                name: "churn".into(),
                version: "1".into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(meta.platform, "onnx_tract");
        assert_eq!(meta.inputs[0].name, "input");
        assert_eq!(meta.inputs[0].shape[0], -1);
        let mut versions = meta.versions.clone();
        versions.sort();
        assert_eq!(versions, ["1", "2"]);

        // Pinned to each version, typed and raw: the same outputs as HTTP gives.
        for version in ["1", "2"] {
            let body = request_body("churn_lr");
            let url = format!("{}/v2/models/churn/versions/{version}/infer", s.url);
            let (st, answer) = post_json(&http, url, body).await;
            assert_eq!(st, 200);
            let want = v2::parse_response(&answer, None).unwrap();
            for raw in [false, true] {
                let got = c
                    .model_infer(infer_req("churn", Some(version), &req, raw, None))
                    .await
                    .unwrap();
                assert_eq!(got.metadata().get("x-mlctl-variant").unwrap(), version);
                let got = got.into_inner();
                assert_eq!(
                    got.raw_output_contents.is_empty(),
                    !raw,
                    "answers in the request's form"
                );
                let got = response_from_proto(got).unwrap();
                assert_eq!(got.model_version, version);
                assert_eq!(got.outputs, want.outputs, "version {version}, raw {raw}");
            }
        }

        // Routed: one key always gets one version; 400 keys split about 50/50.
        let mut by_key: HashMap<String, String> = HashMap::new();
        let mut counts: HashMap<String, usize> = HashMap::new();
        for i in 0..400 {
            let key = format!("user-{}", i % 200);
            let mut r = infer_req("churn", None, &req, true, Some(&key));
            r.get_mut().id = format!("grpc-{i}");
            let resp = c.model_infer(r).await.unwrap();
            let variant = resp
                .metadata()
                .get("x-mlctl-variant")
                .unwrap()
                .to_str()
                .unwrap()
                .to_string();
            assert_eq!(resp.metadata().get("x-request-id").unwrap(), &format!("grpc-{i}"));
            assert_eq!(resp.into_inner().id, format!("grpc-{i}"));
            if let Some(prev) = by_key.insert(key.clone(), variant.clone()) {
                assert_eq!(prev, variant, "key {key} is sticky");
            }
            *counts.entry(variant).or_default() += 1;
        }
        let canary = counts.get("2").copied().unwrap_or(0);
        assert!(
            (120..=280).contains(&canary),
            "canary served {canary} of 400: {counts:?}"
        );

        // Refusals carry the gRPC code a V2 client expects.
        let e = c
            .model_infer(infer_req("nope", None, &req, true, None))
            .await
            .unwrap_err();
        assert_eq!(e.code(), tonic::Code::NotFound, "{e:?}");
        let mut bad = request_to_proto("churn", Some("1"), &req, false);
        bad.inputs[0].shape = vec![1, 3];
        let e = c.model_infer(tonic::Request::new(bad)).await.unwrap_err();
        assert_eq!(e.code(), tonic::Code::InvalidArgument, "{e:?}");
        assert!(e.message().contains("input 'input'"), "{}", e.message());
        let e = c
            .model_ready(ModelReadyRequest {
                name: "churn".into(),
                version: "9".into(),
            })
            .await
            .unwrap_err();
        assert_eq!(e.code(), tonic::Code::NotFound);
    });

    // The prediction log and the metrics hold the gRPC requests like any other.
    let metrics = rt.block_on(async {
        let r = http.get(format!("{}/metrics", s.url)).send().await.unwrap();
        r.text().await.unwrap()
    });
    let served: f64 = metrics
        .lines()
        .filter(|l| {
            l.starts_with("mlctl_requests_total{") && l.contains("model=\"churn\"") && l.contains("status=\"200\"")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert!(served >= 404.0, "metrics count the gRPC requests: {served}\n{metrics}");
    assert_eq!(s.terminate(), Some(0), "a clean stop flushes the log");
    let mut logged = 0;
    for entry in std::fs::read_dir(dir.path().join("logs")).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap().to_string_lossy().starts_with("predictions-") {
            let text = std::fs::read_to_string(&path).unwrap();
            logged += text.lines().filter(|l| l.contains("\"request_id\":\"grpc-")).count();
        }
    }
    assert_eq!(logged, 400, "every routed gRPC request is in the prediction log");
}

#[test]
fn grpc_inference_needs_the_token_when_http_does() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(
        dir.path(),
        &["--grpc-listen", "127.0.0.1:0", "--require-token-for-inference"],
    );
    deploy(&s, "churn", "1", "churn_lr");
    let req = sample_request("churn_lr");
    rt().block_on(async {
        let mut c = client(&s).await;
        let e = c
            .model_infer(infer_req("churn", None, &req, true, None))
            .await
            .unwrap_err();
        assert_eq!(e.code(), tonic::Code::Unauthenticated, "{e:?}");
        let mut r = infer_req("churn", None, &req, true, None);
        r.metadata_mut()
            .insert("authorization", format!("Bearer {}", s.token).parse().unwrap());
        let ok = c.model_infer(r).await.unwrap().into_inner();
        assert_eq!(ok.model_version, "1");
        assert!(!ok.id.is_empty(), "a generated request id comes back");
    });
}

#[test]
fn loadtest_drives_the_grpc_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir.path(), &["--grpc-listen", "127.0.0.1:0"]);
    deploy(&s, "churn", "1", "churn_lr");
    let grpc = s.grpc.clone().unwrap();
    let run = |model: &str| {
        let out = s
            .cli()
            .args(["loadtest", "--model", model, "--grpc", &grpc])
            .args(["-c", "2", "-n", "300", "--routing-keys", "50", "-o", "json"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let ok = run("churn");
    assert_eq!(ok["status_codes"], serde_json::json!({"200": 300}), "{ok}");
    assert_eq!(ok["variants"]["1"]["requests"], 300);
    assert!(
        ok["target"].as_str().unwrap().starts_with("grpc://"),
        "{}",
        ok["target"]
    );
    // The gateway counted them as routed inference.
    let served = std::fs::read_dir(dir.path().join("logs"))
        .unwrap()
        .filter_map(|e| std::fs::read_to_string(e.unwrap().path()).ok())
        .map(|t| t.lines().filter(|l| l.contains("\"model\":\"churn\"")).count())
        .sum::<usize>();
    assert!(served > 0, "the log is written as requests are served");
    // A gRPC refusal is reported as its HTTP equivalent (NOT_FOUND → 404) and fails.
    let out = s
        .cli()
        .args([
            "loadtest",
            "http://127.0.0.1:1/v2/models/nope/infer",
            "--body",
            "{\"inputs\":[]}",
        ])
        .args(["--grpc", &grpc, "-c", "1", "-n", "5", "-o", "json"])
        .output()
        .unwrap();
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["status_codes"], serde_json::json!({"404": 5}), "{r}");
    // A URL that names no model is a usage error.
    s.cli()
        .args([
            "loadtest",
            "http://127.0.0.1:1/other",
            "--body",
            "{}",
            "--grpc",
            &grpc,
            "-n",
            "1",
            "-c",
            "1",
        ])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("not a V2 infer path"));
}

/// Gateway B proxies to gateway A's gRPC port (`--upstream grpc://…`): answers equal A's,
/// metadata and readiness come over gRPC, A's refusals keep their meaning, and a dead
/// upstream is 502.
#[test]
fn an_upstream_can_be_a_v2_grpc_server() {
    let dir_a = tempfile::tempdir().unwrap();
    let a = Server::start_in(dir_a.path(), &["--grpc-listen", "127.0.0.1:0"]);
    deploy(&a, "churn", "1", "churn_lr");
    let dir_b = tempfile::tempdir().unwrap();
    let b = Server::start_in(dir_b.path(), &["--grpc-listen", "127.0.0.1:0"]);
    let upstream = format!("grpc://{}/v2/models/churn/versions/1", a.grpc.clone().unwrap());
    b.cli()
        .args([
            "deploy",
            "proxied",
            "--version",
            "g1",
            "--upstream",
            &upstream,
            "--timeout",
            "5s",
        ])
        .assert()
        .success();
    let rt = rt();
    let http = reqwest::Client::new();
    rt.block_on(async {
        let post = |url: String, body: Vec<u8>| post_json(&http, url, body);
        let (st, direct) = post(format!("{}/v2/models/churn/infer", a.url), request_body("churn_lr")).await;
        assert_eq!(st, 200);
        let (st, proxied) = post(format!("{}/v2/models/proxied/infer", b.url), request_body("churn_lr")).await;
        assert_eq!(st, 200, "{}", String::from_utf8_lossy(&proxied));
        let direct = v2::parse_response(&direct, None).unwrap();
        let proxied = v2::parse_response(&proxied, None).unwrap();
        assert_eq!(proxied.outputs, direct.outputs);
        assert_eq!(
            (proxied.model_name.as_str(), proxied.model_version.as_str()),
            ("proxied", "g1")
        );

        let meta: serde_json::Value = http
            .get(format!("{}/v2/models/proxied", b.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(meta["name"], "proxied");
        assert_eq!(meta["inputs"][0]["name"], "input");
        assert_eq!(meta["parameters"]["upstream"], upstream.as_str());
        let ready = http
            .get(format!("{}/v2/models/proxied/ready", b.url))
            .send()
            .await
            .unwrap();
        assert_eq!(ready.status(), 200);

        // A's INVALID_ARGUMENT is the client's error at B too.
        let bad = serde_json::to_vec(&serde_json::json!({"inputs": [{
            "name": "input", "datatype": "FP32", "shape": [1, 3], "data": [1.0, 2.0, 3.0]}]}))
        .unwrap();
        let (st, body) = post(format!("{}/v2/models/proxied/infer", b.url), bad).await;
        assert_eq!(st, 400, "{}", String::from_utf8_lossy(&body));
        assert!(String::from_utf8_lossy(&body).contains("upstream:"));

        // The other way round: a gRPC request to B for a model B proxies over HTTP (the
        // request is sent upstream as V2 JSON).
        let http_upstream = format!("{}/v2/models/churn/versions/1", a.url);
        b.cli()
            .args(["deploy", "via-http", "--version", "h1", "--upstream", &http_upstream])
            .assert()
            .success();
        let mut c = client(&b).await;
        let got = c
            .model_infer(infer_req("via-http", None, &sample_request("churn_lr"), false, None))
            .await
            .unwrap()
            .into_inner();
        let got = response_from_proto(got).unwrap();
        assert_eq!(got.outputs, direct.outputs);
        assert_eq!(
            (got.model_name.as_str(), got.model_version.as_str()),
            ("via-http", "h1")
        );
    });
    // A gone: B answers 502 and says not ready.
    drop(a);
    rt.block_on(async {
        let (st, _) = post_json(
            &http,
            format!("{}/v2/models/proxied/infer", b.url),
            request_body("churn_lr"),
        )
        .await;
        assert_eq!(st, 502);
        let ready = http
            .get(format!("{}/v2/models/proxied/ready", b.url))
            .send()
            .await
            .unwrap();
        assert_eq!(ready.status(), 503);
    });
}

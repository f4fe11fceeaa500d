"""Interop with real V2 peers, run by .ci/run (needs interop/requirements.txt).

- The official Triton HTTP client (tritonclient[http]) talks to `mlctl serve`: health,
  metadata, and inference with its default binary tensor data and with binary_data=False;
  answers equal onnxruntime's on the same ONNX file to 1e-5.
- MLServer (+ mlserver-sklearn) serves the scikit-learn model the fixtures were exported
  from; `mlctl serve --upstream` proxies to it and returns what MLServer computed.

MLCTL_BIN points at the mlctl binary (default: target/debug/mlctl).
"""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import numpy as np
import onnxruntime as ort
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MLCTL = os.environ.get("MLCTL_BIN", os.path.join(ROOT, "target", "debug", "mlctl"))
MODELS = os.path.join(ROOT, "fixtures", "models")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except Exception:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} never became ready")


def mlctl(*args, data_dir, endpoint):
    env = dict(os.environ, MLCTL_DATA_DIR=data_dir, MLCTL_ENDPOINT=endpoint, NO_COLOR="1")
    return subprocess.run([MLCTL, *args], env=env, capture_output=True, text=True, check=True)


@pytest.fixture(scope="module")
def gateway():
    data_dir = tempfile.mkdtemp(prefix="mlctl-interop-")
    proc = subprocess.Popen(
        [MLCTL, "serve", "--listen", "127.0.0.1:0", "--grpc-listen", "127.0.0.1:0", "--data-dir", data_dir],
        stdout=subprocess.PIPE, stderr=sys.stderr, text=True,
    )
    url = grpc = None
    for line in proc.stdout:
        if line.startswith("mlctl: gRPC listening on "):
            grpc = line.split("listening on ", 1)[1].strip()
        if line.startswith("mlctl: listening on "):
            url = line.split("listening on ", 1)[1].strip()
            break
    assert url, "mlctl serve did not start"
    assert grpc, "mlctl serve did not print its gRPC address"
    wait_ready(url + "/v2/health/ready")
    for name, fixture in [("churn", "churn_lr"), ("iris", "iris_gbt"), ("price", "price_rf")]:
        mlctl("deploy", name, "--version", "1", "--onnx", os.path.join(MODELS, fixture + ".onnx"),
              data_dir=data_dir, endpoint=url)
    yield {"url": url, "grpc": grpc, "data_dir": data_dir}
    proc.terminate()
    proc.wait(timeout=20)


def onnxruntime_outputs(fixture, x):
    sess = ort.InferenceSession(os.path.join(MODELS, fixture + ".onnx"), providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(None, {"input": x})))


def sample_input(fixture):
    with open(os.path.join(MODELS, fixture + ".samples.json")) as f:
        doc = json.load(f)
    return np.array(doc["input"]["data"], dtype=np.float32).reshape(doc["input"]["shape"])


@pytest.mark.parametrize("binary", [True, False])
@pytest.mark.parametrize("model,fixture", [("churn", "churn_lr"), ("iris", "iris_gbt"), ("price", "price_rf")])
def test_tritonclient_infers_like_onnxruntime(gateway, model, fixture, binary):
    import tritonclient.http as httpclient

    client = httpclient.InferenceServerClient(url=gateway["url"].removeprefix("http://"))
    assert client.is_server_live()
    assert client.is_server_ready()
    assert client.is_model_ready(model)
    meta = client.get_model_metadata(model)
    assert meta["name"] == model
    assert meta["inputs"][0]["name"] == "input"
    x = sample_input(fixture)
    inp = httpclient.InferInput("input", list(x.shape), "FP32")
    inp.set_data_from_numpy(x, binary_data=binary)
    expected = onnxruntime_outputs(fixture, x)
    outputs = [httpclient.InferRequestedOutput(name, binary_data=binary) for name in expected]
    result = client.infer(model, inputs=[inp], outputs=outputs, request_id="interop-1")
    resp = result.get_response()
    assert resp["model_version"] == "1"
    assert resp["id"] == "interop-1"
    for name, want in expected.items():
        got = result.as_numpy(name)
        assert got.shape == want.shape, name
        np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), atol=1e-5, rtol=0, err_msg=name)


def test_tritonclient_default_request_without_outputs(gateway):
    """No outputs listed: tritonclient asks for binary_data_output; every output comes back."""
    import tritonclient.http as httpclient

    client = httpclient.InferenceServerClient(url=gateway["url"].removeprefix("http://"))
    x = sample_input("iris_gbt")
    inp = httpclient.InferInput("input", list(x.shape), "FP32")
    inp.set_data_from_numpy(x)
    result = client.infer("iris", inputs=[inp])
    expected = onnxruntime_outputs("iris_gbt", x)
    np.testing.assert_allclose(result.as_numpy("probabilities"), expected["probabilities"], atol=1e-5)
    np.testing.assert_array_equal(result.as_numpy("label"), expected["label"])


@pytest.mark.parametrize("model,fixture", [("churn", "churn_lr"), ("iris", "iris_gbt"), ("price", "price_rf")])
def test_tritonclient_grpc_infers_like_onnxruntime(gateway, model, fixture):
    """The official gRPC client (raw_input_contents / raw_output_contents)."""
    import tritonclient.grpc as grpcclient

    client = grpcclient.InferenceServerClient(url=gateway["grpc"])
    assert client.is_server_live()
    assert client.is_server_ready()
    assert client.is_model_ready(model)
    from tritonclient.utils import InferenceServerException
    with pytest.raises(InferenceServerException, match="unknown version '9'"):
        client.is_model_ready(model, model_version="9")
    meta = client.get_model_metadata(model)
    assert meta.name == model
    assert meta.inputs[0].name == "input"
    assert meta.inputs[0].datatype == "FP32"
    assert meta.inputs[0].shape[0] == -1
    x = sample_input(fixture)
    inp = grpcclient.InferInput("input", list(x.shape), "FP32")
    inp.set_data_from_numpy(x)
    expected = onnxruntime_outputs(fixture, x)
    outputs = [grpcclient.InferRequestedOutput(name) for name in expected]
    result = client.infer(model, inputs=[inp], outputs=outputs, request_id="interop-grpc-1",
                          headers={"x-mlctl-key": "user-7"})
    resp = result.get_response()
    assert resp.model_version == "1"
    assert resp.id == "interop-grpc-1"
    for name, want in expected.items():
        got = result.as_numpy(name)
        assert got.shape == want.shape, name
        np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), atol=1e-5, rtol=0, err_msg=name)


def test_grpc_typed_contents_answer_typed(gateway):
    """A request with typed contents (InferTensorContents) through the generated stub."""
    import grpc
    from tritonclient.grpc import service_pb2, service_pb2_grpc

    x = sample_input("iris_gbt")
    req = service_pb2.ModelInferRequest(model_name="iris", id="typed-1")
    t = req.inputs.add(name="input", datatype="FP32", shape=list(x.shape))
    t.contents.fp32_contents.extend(x.ravel().tolist())
    with grpc.insecure_channel(gateway["grpc"]) as ch:
        stub = service_pb2_grpc.GRPCInferenceServiceStub(ch)
        resp, call = stub.ModelInfer.with_call(req)
        variant = dict(call.initial_metadata()).get("x-mlctl-variant")
    assert variant == "1"
    assert resp.id == "typed-1"
    assert len(resp.raw_output_contents) == 0
    expected = onnxruntime_outputs("iris_gbt", x)
    got = {o.name: o for o in resp.outputs}
    probs = np.array(got["probabilities"].contents.fp32_contents).reshape(list(got["probabilities"].shape))
    np.testing.assert_allclose(probs, expected["probabilities"], atol=1e-5)
    labels = np.array(got["label"].contents.int64_contents).reshape(list(got["label"].shape))
    np.testing.assert_array_equal(labels, expected["label"])


def test_tritonclient_grpc_sees_clear_errors(gateway):
    import tritonclient.grpc as grpcclient
    from tritonclient.utils import InferenceServerException

    client = grpcclient.InferenceServerClient(url=gateway["grpc"])
    x = np.zeros((2, 3), dtype=np.float32)
    inp = grpcclient.InferInput("input", list(x.shape), "FP32")
    inp.set_data_from_numpy(x)
    with pytest.raises(InferenceServerException, match=r"INVALID_ARGUMENT.*expected shape \[-1, 4\]"):
        client.infer("churn", inputs=[inp])
    with pytest.raises(InferenceServerException, match="NOT_FOUND.*unknown model"):
        client.infer("nope", inputs=[inp])


def test_tritonclient_sees_clear_errors(gateway):
    import tritonclient.http as httpclient
    from tritonclient.utils import InferenceServerException

    client = httpclient.InferenceServerClient(url=gateway["url"].removeprefix("http://"))
    x = np.zeros((2, 3), dtype=np.float32)
    inp = httpclient.InferInput("input", list(x.shape), "FP32")
    inp.set_data_from_numpy(x)
    with pytest.raises(InferenceServerException, match=r"expected shape \[-1, 4\]"):
        client.infer("churn", inputs=[inp])
    with pytest.raises(InferenceServerException, match="unknown model"):
        client.infer("nope", inputs=[inp])


@pytest.fixture(scope="module")
def mlserver():
    work = tempfile.mkdtemp(prefix="mlserver-")
    subprocess.run([sys.executable, os.path.join(ROOT, "fixtures", "make_models.py"), "--sklearn-dir", work,
                    "--no-write"], check=True)
    port, grpc, metrics = free_port(), free_port(), free_port()
    with open(os.path.join(work, "settings.json"), "w") as f:
        json.dump({"http_port": port, "grpc_port": grpc, "metrics_port": metrics, "debug": False,
                   "parallel_workers": 1}, f)
    proc = subprocess.Popen(["mlserver", "start", work], stdout=sys.stderr, stderr=sys.stderr,
                            cwd=work, env=dict(os.environ, PATH=os.path.dirname(sys.executable) + ":" + os.environ["PATH"]))
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url + "/v2/models/churn_lr/ready", timeout=120)
        yield {"url": url, "grpc": f"127.0.0.1:{grpc}", "dir": work}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.mark.parametrize("scheme", ["http", "grpc"])
def test_mlctl_proxies_to_mlserver(gateway, mlserver, scheme):
    """--upstream http:// (the body forwarded) and grpc:// (MLServer's V2 gRPC port): answers
    equal to scikit-learn's, relabelled with the gateway's model and version; metadata and
    readiness asked the upstream's way."""
    import joblib

    name, version = f"churn-{scheme}", f"{scheme}-1"
    base = mlserver["url"] if scheme == "http" else f"grpc://{mlserver['grpc']}"
    upstream = base + "/v2/models/churn_lr"
    mlctl("deploy", name, "--version", version, "--upstream", upstream, "--timeout", "5s",
          data_dir=gateway["data_dir"], endpoint=gateway["url"])
    x = sample_input("churn_lr")
    body = {"inputs": [{"name": "input", "shape": list(x.shape), "datatype": "FP32", "data": x.ravel().tolist()}],
            "outputs": [{"name": "predict_proba"}]}
    req = urllib.request.Request(gateway["url"] + f"/v2/models/{name}/infer", data=json.dumps(body).encode(),
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        assert r.headers["x-mlctl-variant"] == version
        resp = json.load(r)
    assert resp["model_name"] == name and resp["model_version"] == version
    got = np.array(resp["outputs"][0]["data"], dtype=np.float64).reshape(resp["outputs"][0]["shape"])
    sk = joblib.load(os.path.join(mlserver["dir"], "churn_lr", "model.joblib"))
    np.testing.assert_allclose(got, sk.predict_proba(x), atol=1e-6)
    # and the in-process ONNX export of the same model agrees with MLServer's scikit-learn answer
    np.testing.assert_allclose(got, onnxruntime_outputs("churn_lr", x)["probabilities"], atol=1e-5)
    with urllib.request.urlopen(gateway["url"] + f"/v2/models/{name}/ready", timeout=10) as r:
        assert r.status == 200
    with urllib.request.urlopen(gateway["url"] + f"/v2/models/{name}", timeout=10) as r:
        meta = json.load(r)
    assert meta["name"] == name
    assert meta["parameters"]["upstream"] == upstream

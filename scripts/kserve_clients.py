"""The KServe v2 and v1 routes driven by the real clients: tritonclient[http] and the KServe SDK, through their own APIs.

Run by scripts/kserve-clients.sh (pytest), which starts `serve --demo-weights` and sets:
  KSERVE_TEST_PORT   the server's loopback port
  KSERVE_TEST_VIDEO  an encoded video
  KSERVE_TEST_CLIPS  the same video's 2 clips from `r2plus1d preprocess --clips 2` (safetensors, 'clips')
  KSERVE_TEST_TOKEN_FILE, KSERVE_TEST_PID  the server's --auth-token-file (one token) and its process id
Every answer is checked against POST /classify on the same video, within 1e-5. Every call passes the bearer
token through the client's own `headers=`.
"""
import asyncio
import base64
import json
import os
import signal
import struct
import time
import urllib.request

import httpx
import numpy as np
import pytest
import tritonclient.http as triton_http
from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig
from tritonclient.utils import InferenceServerException

PORT = int(os.environ["KSERVE_TEST_PORT"])
URL = f"127.0.0.1:{PORT}"
BASE = f"http://{URL}"
MODEL = "r2plus1d_18"
with open(os.environ["KSERVE_TEST_VIDEO"], "rb") as f:
    VIDEO = f.read()
TOLERANCE = 1e-5
TOKEN_FILE = os.environ["KSERVE_TEST_TOKEN_FILE"]
with open(TOKEN_FILE) as f:
    TOKEN = f.read().strip()


def auth():
    """A fresh header dict each call: the clients add their own headers to the dict they are given."""
    return {"Authorization": f"Bearer {TOKEN}"}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + length])
    tensors = {}
    for name, spec in header.items():
        if name == "__metadata__":
            continue
        begin, end = spec["data_offsets"]
        assert spec["dtype"] == "F32"
        tensors[name] = np.frombuffer(data[8 + length + begin:8 + length + end], dtype="<f4").reshape(spec["shape"])
    return tensors


CLIPS = read_safetensors(os.environ["KSERVE_TEST_CLIPS"])["clips"]
_classified = {}


def classify(clips):
    """/classify's video-level probabilities for every class, by index."""
    if clips not in _classified:
        request = urllib.request.Request(f"{BASE}/classify?clips={clips}&top_k=400", data=VIDEO,
                                         headers={"Content-Type": "video/mp4", **auth()})
        with urllib.request.urlopen(request, timeout=120) as response:
            answer = json.load(response)
        probabilities = np.zeros(400)
        for prediction in answer["predictions"]:
            probabilities[prediction["index"]] = prediction["score"]
        _classified[clips] = probabilities
    return _classified[clips]


@pytest.fixture(scope="module")
def client():
    c = triton_http.InferenceServerClient(URL, network_timeout=120.0, connection_timeout=120.0)
    yield c
    c.close()


def video_input(binary):
    video = triton_http.InferInput("VIDEO", [1], "BYTES")
    # JSON cannot carry raw bytes: there the video goes as base64 text.
    value = VIDEO if binary else base64.b64encode(VIDEO)
    video.set_data_from_numpy(np.array([value], dtype=np.object_), binary_data=binary)
    return video


def test_metadata_and_readiness(client):
    # Liveness and readiness need no token: probes have none.
    assert client.is_server_live() and client.is_server_ready()
    assert client.is_model_ready(MODEL, headers=auth()) and client.is_model_ready(MODEL, "1", headers=auth())
    server = client.get_server_metadata(headers=auth())
    assert {"binary_tensor_data", "classification"} <= set(server["extensions"])
    model = client.get_model_metadata(MODEL, "1", headers=auth())
    assert model["name"] == MODEL and model["versions"] == ["1"]
    assert {t["name"]: t["shape"] for t in model["inputs"]} == {"VIDEO": [1], "CLIPS": [-1, 3, 16, 112, 112]}
    assert {t["name"]: t["shape"] for t in model["outputs"]} == {"LOGITS": [-1, 400], "PROBS": [400], "EMBEDDING": [-1, 512],
                                                                  "TIMELINE": [1]}


@pytest.mark.parametrize("binary", [True, False])
def test_video_as_bytes_agrees_with_classify(client, binary):
    outputs = [triton_http.InferRequestedOutput(name, binary_data=binary) for name in ("LOGITS", "PROBS", "EMBEDDING")]
    result = client.infer(MODEL, [video_input(binary)], outputs=outputs, parameters={"clips": 2}, headers=auth())
    probabilities = result.as_numpy("PROBS")
    assert probabilities.shape == (400,) and probabilities.dtype == np.float32
    assert np.abs(probabilities - classify(2)).max() <= TOLERANCE
    assert result.as_numpy("LOGITS").shape == (2, 400)
    embedding = result.as_numpy("EMBEDDING")
    assert embedding.shape == (2, 512) and (embedding >= 0).all() and embedding.any()


def test_fp32_clips_in_binary_agree_with_classify(client):
    clips = triton_http.InferInput("CLIPS", list(CLIPS.shape), "FP32")
    clips.set_data_from_numpy(np.ascontiguousarray(CLIPS), binary_data=True)
    result = client.infer(MODEL, [clips], outputs=[triton_http.InferRequestedOutput("PROBS")], headers=auth())
    assert np.abs(result.as_numpy("PROBS") - classify(2)).max() <= TOLERANCE


def test_classification_extension(client):
    outputs = [triton_http.InferRequestedOutput("PROBS", class_count=3)]
    result = client.infer(MODEL, [video_input(True)], outputs=outputs, parameters={"clips": 2}, headers=auth())
    top = [item.decode() if isinstance(item, bytes) else item for item in result.as_numpy("PROBS")]
    assert len(top) == 3
    expected = classify(2)
    for entry in top:
        value, index, label = entry.split(":", 2)
        assert abs(float(value) - expected[int(index)]) <= TOLERANCE and label
    assert int(top[0].split(":")[1]) == int(np.argmax(expected))


def test_timeline_parameters_give_classifys_timeline(client):
    parameters = {"timeline": True, "window_s": 1, "stride_s": 0.5, "top_k": 2}
    result = client.infer(MODEL, [video_input(True)], outputs=[triton_http.InferRequestedOutput("TIMELINE")],
                          parameters=parameters, headers=auth())
    (raw,) = result.as_numpy("TIMELINE")
    answer = json.loads(raw)
    request = urllib.request.Request(f"{BASE}/v1/classify?timeline=1&window_s=1&stride_s=0.5&top_k=2", data=VIDEO,
                                     headers={"Content-Type": "video/mp4", **auth()})
    with urllib.request.urlopen(request, timeout=120) as response:
        expected = json.load(response)
    assert len(answer["timeline"]) == len(expected["timeline"]) > 1
    for ours, theirs in zip(answer["timeline"], expected["timeline"]):
        assert [p["index"] for p in ours["predictions"]] == [p["index"] for p in theirs["predictions"]]
        assert max(abs(a["score"] - b["score"]) for a, b in zip(ours["predictions"], theirs["predictions"])) <= TOLERANCE
    assert [s["index"] for s in answer["segments"]] == [s["index"] for s in expected["segments"]]


def test_timeout_parameter_is_the_deadline(client):
    with pytest.raises(InferenceServerException) as raised:
        client.infer(MODEL, [video_input(True)], timeout=1, headers=auth())
    assert "not computed within" in raised.value.message()


def test_bad_input_message_reaches_the_exception(client):
    audio = triton_http.InferInput("AUDIO", [1, 4], "FP32")
    audio.set_data_from_numpy(np.zeros((1, 4), dtype=np.float32))
    with pytest.raises(InferenceServerException) as raised:
        client.infer(MODEL, [audio], headers=auth())
    assert "unknown input 'AUDIO'" in raised.value.message()


def test_unknown_model_message_reaches_the_exception(client):
    with pytest.raises(InferenceServerException) as raised:
        client.get_model_metadata("resnet50", headers=auth())
    assert "no model at /v2/models/resnet50" in raised.value.message() and raised.value.status() == "404"


def kserve_run(protocol, call):
    async def run():
        rest = InferenceRESTClient(RESTConfig(protocol=protocol, timeout=120))
        try:
            return await call(rest)
        finally:
            await rest.close()
    return asyncio.run(run())


def test_kserve_v2_readiness_and_infer():
    assert kserve_run("v2", lambda rest: rest.is_server_live(BASE))
    assert kserve_run("v2", lambda rest: rest.is_server_ready(BASE))
    assert kserve_run("v2", lambda rest: rest.is_model_ready(BASE, MODEL, headers=auth()))
    video = InferInput("VIDEO", [1], "BYTES")
    video.set_data_from_numpy(np.array([VIDEO], dtype=np.object_), binary_data=True)
    request = InferRequest(MODEL, [video], parameters={"clips": 2})
    response = kserve_run("v2", lambda rest: rest.infer(BASE, request, model_name=MODEL, headers=auth()))
    probabilities = {output.name: output for output in response.outputs}["PROBS"].as_numpy()
    assert np.abs(probabilities - classify(2)).max() <= TOLERANCE


def test_kserve_v2_error_message():
    bad = InferRequest(MODEL, [InferInput("AUDIO", [1], "FP32", data=[1.0])])
    with pytest.raises(httpx.HTTPStatusError) as raised:
        kserve_run("v2", lambda rest: rest.infer(BASE, bad, model_name=MODEL, headers=auth()))
    assert "unknown input 'AUDIO'" in str(raised.value)


def test_kserve_v1_predict():
    assert kserve_run("v1", lambda rest: rest.is_model_ready(BASE, MODEL, headers=auth()))
    body = {"instances": [{"video": {"b64": base64.b64encode(VIDEO).decode()}, "clips": 2, "top_k": 5}]}
    answer = kserve_run("v1", lambda rest: rest.infer(BASE, body, model_name=MODEL, headers=auth()))
    predictions = answer["predictions"][0]
    assert len(predictions) == 5
    expected = classify(2)
    for prediction in predictions:
        assert abs(prediction["score"] - expected[prediction["index"]]) <= TOLERANCE


@pytest.mark.parametrize("request_coding,response_coding", [("gzip", "deflate"), ("deflate", "gzip")])
def test_compressed_request_and_response(client, request_coding, response_coding):
    result = client.infer(MODEL, [video_input(True)], outputs=[triton_http.InferRequestedOutput("PROBS")],
                          parameters={"clips": 2}, request_compression_algorithm=request_coding,
                          response_compression_algorithm=response_coding, headers=auth())
    assert np.abs(result.as_numpy("PROBS") - classify(2)).max() <= TOLERANCE


def test_response_is_compressed_when_accepted():
    import gzip
    body = json.dumps({"inputs": [{"name": "VIDEO", "datatype": "BYTES", "shape": [1],
                                   "data": [base64.b64encode(VIDEO).decode()]}]}).encode()
    request = urllib.request.Request(f"{BASE}/v2/models/{MODEL}/infer", data=gzip.compress(body),
                                     headers={"Content-Encoding": "gzip", "Accept-Encoding": "gzip",
                                              "Content-Type": "application/json", **auth()})
    with urllib.request.urlopen(request, timeout=120) as response:
        assert response.headers["Content-Encoding"] == "gzip"
        answer = json.loads(gzip.decompress(response.read()))
    probabilities = {o["name"]: o for o in answer["outputs"]}["PROBS"]["data"]
    assert np.abs(np.array(probabilities) - classify(1)).max() <= TOLERANCE


def test_a_missing_or_wrong_token_is_refused(client):
    with pytest.raises(InferenceServerException) as raised:
        client.get_model_metadata(MODEL)
    assert "needs Authorization: Bearer" in raised.value.message()
    with pytest.raises(InferenceServerException) as raised:
        client.infer(MODEL, [video_input(True)], headers={"Authorization": "Bearer not-" + TOKEN})
    assert "bearer token is not valid" in raised.value.message()
    body = {"instances": [{"video": {"b64": base64.b64encode(VIDEO).decode()}}]}
    with pytest.raises(httpx.HTTPStatusError) as raised:
        kserve_run("v1", lambda rest: rest.infer(BASE, body, model_name=MODEL))
    assert raised.value.response.status_code == 401 and "WWW-Authenticate" in raised.value.response.headers


def test_sighup_rereads_the_token_file(client):
    def accepted(token):
        try:
            return client.is_model_ready(MODEL, headers={"Authorization": f"Bearer {token}"})
        except InferenceServerException:
            return False

    def rotate(token):
        with open(TOKEN_FILE, "w") as f:
            f.write(token + "\n")
        os.kill(int(os.environ["KSERVE_TEST_PID"]), signal.SIGHUP)
        deadline = time.time() + 10
        while time.time() < deadline and not accepted(token):
            time.sleep(0.05)

    rotate("rotated-token")
    try:
        assert accepted("rotated-token") and not accepted(TOKEN)
    finally:
        rotate(TOKEN)
    assert accepted(TOKEN) and not accepted("rotated-token")

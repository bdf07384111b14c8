"""POST /classify as the common Python HTTP clients send it: requests, httpx and aiohttp, in their own usual forms.

Run by scripts/kserve-clients.sh (pytest, the same venv and live server as scripts/kserve_clients.py, whose
environment variables it reads). Each client's usual upload must get /classify's answer for the same video: a raw
body with whatever Content-Type the client sends (requests and httpx send none), a form whose file field has a name
of the client's own with the options as form fields, a chunked body, a streamed NDJSON timeline.
"""
import asyncio
import json
import os
import urllib.request

import aiohttp
import httpx
import pytest
import requests

BASE = f"http://127.0.0.1:{os.environ['KSERVE_TEST_PORT']}"
with open(os.environ["KSERVE_TEST_VIDEO"], "rb") as f:
    VIDEO = f.read()
with open(os.environ["KSERVE_TEST_TOKEN_FILE"]) as f:
    TOKEN = f.read().strip()


def auth():
    return {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def reference():
    """/classify's top 3 for the video, sent with an explicit video/mp4 type by the standard library."""
    request = urllib.request.Request(f"{BASE}/classify?top_k=3", data=VIDEO, headers={"Content-Type": "video/mp4", **auth()})
    with urllib.request.urlopen(request, timeout=120) as response:
        return [(p["index"], p["label"]) for p in json.load(response)["predictions"]]


def top(answer, k=3):
    predictions = answer["predictions"]
    assert len(predictions) == k, answer
    return [(p["index"], p["label"]) for p in predictions]


def test_requests_raw_body_without_a_type(reference):
    response = requests.post(f"{BASE}/classify?top_k=3", data=VIDEO, headers=auth(), timeout=120)
    assert "Content-Type" not in response.request.headers
    assert response.status_code == 200, response.text
    assert top(response.json()) == reference


def test_requests_form_with_its_own_field_name_and_options(reference):
    response = requests.post(f"{BASE}/classify", files={"clip": ("clip.mp4", VIDEO, "video/mp4")}, data={"top_k": "2"},
                             headers=auth(), timeout=120)
    assert response.status_code == 200, response.text
    assert top(response.json(), 2) == reference[:2]


def test_requests_option_given_twice_differently_is_refused():
    response = requests.post(f"{BASE}/classify?top_k=2", files={"video": VIDEO}, data={"top_k": "3"}, headers=auth(),
                             timeout=120)
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/problem+json"
    assert "top_k" in response.json()["detail"]


def test_httpx_raw_and_chunked_bodies(reference):
    with httpx.Client(timeout=120, headers=auth()) as client:
        raw = client.post(f"{BASE}/classify?top_k=3", content=VIDEO)
        assert "content-type" not in raw.request.headers
        assert raw.status_code == 200, raw.text
        assert top(raw.json()) == reference
        chunks = (VIDEO[i:i + 65536] for i in range(0, len(VIDEO), 65536))
        chunked = client.post(f"{BASE}/classify?top_k=3", content=chunks, headers={"Content-Type": "video/mp4"})
        assert chunked.request.headers["transfer-encoding"] == "chunked"
        assert chunked.status_code == 200, chunked.text
        assert top(chunked.json()) == reference


def test_httpx_streams_a_timeline_line_by_line():
    with httpx.Client(timeout=120, headers=auth()) as client:
        with client.stream("POST", f"{BASE}/v1/classify?timeline=1&window_s=1&stride_s=1&top_k=1", content=VIDEO,
                           headers={"Accept": "application/x-ndjson"}) as response:
            assert response.status_code == 200
            assert response.headers["content-type"] == "application/x-ndjson"
            lines = [json.loads(line) for line in response.iter_lines() if line]
    windows = [line["window"] for line in lines if "window" in line]
    assert [w["index"] for w in windows] == list(range(len(windows))) and len(windows) >= 2, lines
    assert "result" in lines[-1] and len(lines[-1]["result"]["timeline"]) == len(windows)


def test_aiohttp_raw_body_and_form(reference):
    async def run():
        async with aiohttp.ClientSession(headers=auth(), timeout=aiohttp.ClientTimeout(total=120)) as session:
            async with session.post(f"{BASE}/classify?top_k=3", data=VIDEO) as response:
                assert response.status == 200, await response.text()
                raw = await response.json()
            form = aiohttp.FormData()
            form.add_field("video", VIDEO, filename="clip.mp4", content_type="video/mp4")
            form.add_field("top_k", "3")
            async with session.post(f"{BASE}/classify", data=form) as response:
                assert response.status == 200, await response.text()
                return raw, await response.json()
    raw, form = asyncio.run(run())
    assert top(raw) == reference and top(form) == reference

"""genlab explore: the explorer's actions and HTTP endpoints (a real server on a free port), its refusals,
and an end-to-end test in headless Chromium driven through chromedriver's WebDriver protocol."""
from __future__ import annotations

import io
import json
import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from contextlib import contextmanager

import numpy as np
import pytest
import torch

from genlab.cli import main
from genlab.explorer.server import ExplorerServer
from genlab.explorer.session import Explorer


def _error(capsys, argv):
    code = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("genlab: error: "), err
    return err[0]


@contextmanager
def serving(run):
    server = ExplorerServer(Explorer(run), 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.url
    finally:
        server.shutdown()
        server.server_close()


def get(url, method="GET"):
    """(status, content type, body) of a request; HTTP errors are returned, not raised."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method), timeout=30) as r:
            return r.status, r.headers["Content-Type"], r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers["Content-Type"], e.read()


@pytest.fixture(scope="module")
def vae_server(vae_run):
    with serving(vae_run) as url:
        yield url


def test_endpoints_serve_the_page_and_decoded_images(vae_server):
    status, kind, body = get(vae_server)
    assert status == 200 and kind.startswith("text/html") and b"/static/explorer.js" in body
    assert b"http://" not in body and b"https://" not in body  # no CDN: every asset is served here
    for name in ("explorer.js", "explorer.css"):
        assert get(vae_server + "static/" + name)[0] == 200
    info = json.loads(get(vae_server + "api/info")[2])
    assert info["model"] == "vae" and info["sliders"] == 4 and info["interpolate"] and info["attribute"]
    assert not info["trajectory"] and info["classes"] == 0
    images = {}
    for path in ("sample?seed=3", "decode?base=0&v=0,0,0,0", "decode?base=0&v=2,0,0,0", "decode?base=1",
                 "interpolate?a=0&b=1&t=0.25&method=linear", "attribute?base=0&toward=7&strength=2",
                 "test_image?index=5"):
        status, kind, body = get(vae_server + "api/" + path)
        assert (status, kind) == (200, "image/png") and body.startswith(b"\x89PNG"), (path, body[:200])
        images[path] = body
    assert images["decode?base=0&v=0,0,0,0"] != images["decode?base=0&v=2,0,0,0"]  # a slider changes the image
    assert get(vae_server + "api/sample?seed=3")[2] == images["sample?seed=3"]  # a seed is a seed
    timing = json.loads(get(vae_server + "api/timing")[2])
    assert timing["n"] >= 6 and timing["median_ms"] > 0


@pytest.mark.parametrize("path,status,message", [
    ("api/decode?v=9,0,0,0", 400, "'v' must be between -3 and 3"),
    ("api/decode?v=nan,0,0,0", 400, "'v' must be between"),
    ("api/decode?v=1,2", 400, "'v' must hold 4 comma-separated numbers"),
    ("api/decode?base=99999", 400, "'base' must be in 0..31"),
    ("api/decode?base=x", 400, "'base' must be an integer"),
    ("api/decode?label=1", 400, "is not conditional"),
    ("api/sample?seed=-1", 400, "'seed' must be in"),
    ("api/sample?colour=red", 400, "unknown parameter 'colour'"),
    ("api/interpolate?method=cubic", 400, "'method' must be one of linear, spherical"),
    ("api/attribute?toward=42", 400, "'toward' must be in 0..9"),
    ("api/trajectory", 400, "has no denoising trajectory"),
    ("api/style_mix", 400, "has no styles to mix"),
    ("api/launch", 404, "unknown action 'launch'"),
    ("static/../../etc/passwd", 404, "no static file"),
    ("nothing-here", 404, "no page"),
])
def test_bad_requests_are_4xx_with_a_message(vae_server, path, status, message):
    got, kind, body = get(vae_server + path)
    assert got == status and kind == "application/json" and message in json.loads(body)["error"], body
    assert get(vae_server + "api/info")[0] == 200  # and the server keeps serving


def test_other_methods_are_refused(vae_server):
    assert get(vae_server + "api/decode", method="POST")[0] == 405


def test_a_noise_model_slides_through_noise(gan_run):
    explorer = Explorer(gan_run)
    info = explorer.info()
    assert info["base"] == "seed" and info["sliders"] == 8 and not info["interpolate"]
    a = explorer.decode({"base": ["1"]})
    assert a == explorer.decode({"base": ["1"], "v": ["0,0,0,0,0,0,0,0"]}) != explorer.decode({"base": ["1"], "v": ["1,0,0,0,0,0,0,0"]})
    with pytest.raises(Exception, match="has no encoder"):
        explorer.interpolate({})


def test_a_style_model_mixes_styles(stylegan_run):
    explorer = Explorer(stylegan_run)
    info = explorer.info()
    assert info["style_mixing"] and info["style_levels"] == ["coarse", "middle", "fine", "all"]
    assert info["base"] == "seed" and info["sliders"] == 8  # z sliders through the exported sample path
    mixes = {level: explorer.style_mix({"row": ["1"], "col": ["2"], "level": [level]}) for level in info["style_levels"]}
    assert all(m.startswith(b"\x89PNG") for m in mixes.values())
    assert mixes["coarse"] != mixes["fine"]  # the level chooses which layers the row source gives
    assert explorer.style_mix({"row": ["1"], "col": ["2"], "level": ["coarse"]}) == mixes["coarse"]  # seeds are seeds
    with serving(stylegan_run) as url:
        status, kind, body = get(url + "api/style_mix?level=wings")
        assert status == 400 and "'level' must be one of coarse, middle, fine, all" in json.loads(body)["error"]
        assert get(url + "api/style_mix?row=1&col=2&psi=0.5")[:2] == (200, "image/png")
        assert get(url + "api/style_mix?psi=2")[0] == 400


def test_explore_refuses_families_it_cannot_show():
    """Classifiers are refused with a reason; image-to-image, clip, score, sequence and progressive models are
    served."""
    from genlab import registry
    from genlab.explorer.session import explorable

    def tiny(name, **fields):
        return registry.build(name, {"data_shape": [1, 8, 8], **fields})

    assert explorable(registry.build("pix2pix", {"data_shape": [2, 8, 8], "a_channels": 1, "g_width": 4,
                                                 "d_width": 4})) is None  # translated test inputs
    assert explorable(tiny("srresnet", width=4, n_blocks=1)) is None
    assert "not generative" in explorable(registry.build("classifier", {"data_shape": [1, 8, 8], "arch": "lenet5"}))
    for name in ("video-vae", "video-gan", "video-ddpm"):
        assert explorable(registry.build(name, {"data_shape": [4, 1, 8, 8]})) is None, name
    assert explorable(registry.build("recurrent-vae", {"data_shape": [8, 2]})) is None
    assert explorable(tiny("ncsn", base_width=8, width_mults=[1], norm_groups=4, attention_size=0)) is None
    assert explorable(tiny("progan", channel_base=64, channel_max=8, latent_dim=8)) is None


def test_a_score_model_samples_and_shows_its_sampler_trajectory(score_run):
    with serving(score_run) as url:
        info = json.loads(get(url + "api/info")[2])
        assert info["model"] == "ncsn" and info["trajectory"] and info["kind"] == "images"
        assert info["sliders"] == 0 and not info["interpolate"]  # no decoder, no exported noise -> image path
        for path in ("sample?seed=1", "trajectory?seed=1&frames=4"):
            status, kind, body = get(url + "api/" + path)
            assert (status, kind) == (200, "image/png") and body.startswith(b"\x89PNG"), (path, body[:200])
        assert get(url + "api/trajectory?seed=1&frames=4")[2] == get(url + "api/trajectory?seed=1&frames=4")[2]
        assert get(url + "api/trajectory?seed=2&frames=4")[2] != get(url + "api/trajectory?seed=1&frames=4")[2]
        status, _, body = get(url + "api/trajectory?frames=40")
        assert status == 400 and "'frames' must be in 2..16" in json.loads(body)["error"]
        status, _, body = get(url + "api/decode")
        assert status == 400 and "no latent space to slide through" in json.loads(body)["error"]
        status, _, body = get(url + "api/clip")
        assert status == 400 and "not clips: nothing to animate" in json.loads(body)["error"]


def _size(body):
    from PIL import Image

    img = Image.open(io.BytesIO(body))
    return img.size, getattr(img, "n_frames", 1)


@pytest.mark.parametrize("name", ["video-vae", "video-gan", "video-ddpm"])
def test_a_clip_model_shows_frame_strips_and_an_animation(clip_runs, name):
    with serving(clip_runs[name]) as url:
        info = json.loads(get(url + "api/info")[2])
        assert info["kind"] == "clips" and info["clip_length"] == 4 and not info["trajectory"]
        status, kind, body = get(url + "api/sample?seed=3")
        assert (status, kind) == (200, "image/png")
        (w, h), _ = _size(body)
        assert w == h  # 4 clips, one per row of 4 frames
        status, kind, gif = get(url + "api/clip?seed=3")
        assert (status, kind) == (200, "image/gif") and gif.startswith(b"GIF8")
        assert _size(gif)[1] == 4  # one GIF frame per clip frame
        assert get(url + "api/clip?seed=3")[2] == gif and get(url + "api/clip?seed=4")[2] != gif
        if name == "video-ddpm":  # samples only: no latent, no exported noise -> clip path
            assert info["sliders"] == 0 and get(url + "api/decode")[0] == 400
            return
        # sliders over the first 8 noise dimensions: video-vae's static code (then its frames' prior noise);
        # video-gan's content code first
        assert info["sliders"] == 8
        ones = ",".join(["0"] * info["sliders"])
        moved = ",".join(["2.5"] + ["0"] * (info["sliders"] - 1))
        a, b = get(url + f"api/decode?base=1&v={ones}"), get(url + f"api/decode?base=1&v={moved}")
        assert a[:2] == b[:2] == (200, "image/png") and a[2] != b[2]  # a slider changes the decoded clip
        assert _size(a[2])[0][0] > _size(a[2])[0][1]  # one clip: 4 frames in a row


def test_a_sequence_model_plots_samples_and_decodes_along_sliders(series_run):
    with serving(series_run) as url:
        info = json.loads(get(url + "api/info")[2])
        assert info["kind"] == "sequences" and info["sliders"] == 3 and info["interpolate"]
        assert not info["attribute"]  # the series has no labels
        bodies = {}
        for path in ("sample?seed=1", "decode?base=0&v=0,0,0", "decode?base=0&v=3,0,0", "test_image?index=2",
                     "interpolate?a=0&b=3&t=0.5"):
            status, kind, body = get(url + "api/" + path)
            assert (status, kind) == (200, "image/png") and body.startswith(b"\x89PNG"), (path, body[:200])
            bodies[path] = body
        assert bodies["decode?base=0&v=0,0,0"] != bodies["decode?base=0&v=3,0,0"]
        (w, h), _ = _size(bodies["sample?seed=1"])
        assert (w, h) == (4 * 200 + 2, 2 * 90 + 2)  # 8 sampled sequences, 4 plots per row


@pytest.mark.parametrize("name", ["pix2pix", "srresnet"])
def test_a_paired_translator_shows_input_translation_and_target(translator_runs, name):
    """A test input picked by index: input | translation | target (super-resolution: low-res input | bicubic |
    output | original), every panel at the output's size; it is the model's own translate / upscale."""
    from PIL import Image

    from genlab.runs.run import load, run_images

    run = translator_runs[name]
    with serving(run) as url:
        info = json.loads(get(url + "api/info")[2])
        assert info["translate"] and info["directions"] == ["AB"] and not info["sample"] and info["sliders"] == 0
        columns = info["translate_columns"]["AB"]
        assert columns == (["input (A)", "A -> B", "target (B)"] if name == "pix2pix" else
                           ["low-res input", "bicubic", "srresnet", "original"])
        status, kind, body = get(url + "api/translate?index=1")
        assert (status, kind) == (200, "image/png"), body[:200]
        assert get(url + "api/translate?index=1&direction=AB")[2] == body  # deterministic (eval mode)
        assert get(url + "api/translate?index=0")[2] != body  # the index picks the input
        assert get(url + "api/test_image?index=1")[:2] == (200, "image/png")
        timing = json.loads(get(url + "api/timing")[2])
        assert timing["n"] >= 3 and timing["median_ms"] > 0
        last = info["test_images"] - 1
        for path, message in ((f"translate?index={last + 1}", f"'index' must be in 0..{last}"),
                              ("translate?index=-1", "'index' must be in"),
                              ("translate?direction=BA", "'direction' must be one of AB"),
                              ("translate?seed=1", "unknown parameter 'seed'"),
                              ("sample?seed=1", "images instead of sampling them"),
                              ("decode", "no latent space to slide through")):
            status, kind, err = get(url + "api/" + path)
            assert status == 400 and kind == "application/json" and message in json.loads(err)["error"], (path, err)
    # the panels are the model's own output on that test input, beside the input and the target
    explorer = Explorer(run)
    img = Image.open(io.BytesIO(explorer.translate({"index": ["1"]}))).convert("L")
    model = load(run)
    a, b = model.split_packed(run_images(run, "test", [1])[0].float())
    out = model.upscale(a) if name == "srresnet" else model.translate(a)
    side = out.shape[-1]  # one row of square cells of the output's size, 2 px apart, enlarged by `scale`
    scale = img.height // (side + 4)
    assert scale >= 1 and img.width == (len(columns) * (side + 2) + 2) * scale
    want = {"pix2pix": [a, out, b], "srresnet": [None, None, out, b]}[name]
    for k, t in enumerate(want):
        if t is None:
            continue
        x0, y0 = (2 + k * (side + 2)) * scale, 2 * scale
        crop = img.crop((x0, y0, x0 + side * scale, y0 + side * scale)).resize((side, side), Image.Resampling.NEAREST)
        got = torch.tensor(np.asarray(crop)).flatten()
        expected = (t[0, 0].float().cpu().clamp(0, 1) * 255).round().flatten()
        assert (got.float() - expected).abs().max() <= 1, (name, k)


def test_cyclegan_translates_both_ways_and_cycles_back(translator_runs, capsys):
    run = translator_runs["cyclegan"]
    explorer = Explorer(run)
    info = explorer.info()
    assert info["directions"] == ["AB", "BA"] and info["test_images"] >= 1
    assert info["translate_columns"]["BA"] == ["input (B)", "B -> A", "cycle back (A -> B)"]
    ab, ba = (explorer.translate({"index": ["0"], "direction": [d]}) for d in ("AB", "BA"))
    assert ab.startswith(b"\x89PNG") and ba.startswith(b"\x89PNG") and ab != ba  # the switch changes direction
    assert explorer.translate({"index": ["0"], "direction": ["BA"]}) == ba
    with pytest.raises(Exception, match="'direction' must be one of AB, BA"):
        explorer.translate({"direction": ["AA"]})
    assert main(["explore", str(run), "--check"]) == 0
    err = capsys.readouterr().err
    assert "translate:" in err and "translate_BA:" in err and "sample:" not in err and "explorable (cyclegan)" in err


def test_a_table_model_shows_sampled_rows_with_a_seed(table_fits, tmp_path, capsys):
    """A synth fit directory serves sampled rows as a PNG table; the seed is `genlab synth sample`'s seed."""
    from genlab.tables.synthesizer import Synthesizer

    with serving(table_fits["ctgan"]) as url:
        info = json.loads(get(url + "api/info")[2])
        assert info["rows"] and info["kind"] == "tables" and info["table_rows"] == 12
        assert not info["sample"] and info["sliders"] == 0 and not info["translate"]
        status, kind, body = get(url + "api/rows?seed=3")
        assert (status, kind) == (200, "image/png")
        (w, h), _ = _size(body)
        assert (w, h) == (7 * 132 + 1, 13 * 18 + 1)  # 7 columns; a header and 12 rows
        assert get(url + "api/rows?seed=3")[2] == body != get(url + "api/rows?seed=4")[2]
        for path, message in (("rows?seed=-1", "'seed' must be in"), ("rows?n=5", "unknown parameter 'n'"),
                              ("sample", "samples table rows: the rows action shows them")):
            status, _, err = get(url + "api/" + path)
            assert status == 400 and message in json.loads(err)["error"], (path, err)
    explorer = Explorer(table_fits["ctgan"])
    synth = Synthesizer.load(table_fits["ctgan"])
    from genlab.explorer.session import table_png

    assert explorer.rows({"seed": ["5"]}) == table_png(synth.sample(12, seed=5))  # synth sample's own rows
    assert main(["explore", str(table_fits["tvae"]), "--check"]) == 0
    assert "rows:" in capsys.readouterr().err
    alone = tmp_path / "alone"  # the training run alone: no transformer to decode its rows
    shutil.copytree(table_fits["tvae"] / "run", alone)
    assert "need the transformer of its `genlab synth fit` directory" in _error(capsys, ["explore", str(alone),
                                                                                        "--check"])


def test_cli_refusals(vae_run, tmp_path, capsys):
    assert "is not a genlab run" in _error(capsys, ["explore", str(tmp_path)])
    out = tmp_path / "clf"
    assert main(["train", "classifier", "--dataset", "digits", "--arch", "lenet5", "--steps", "1", "--batch-size", "16",
                 "--device", "cpu", "--no-report", "--out", str(out)]) == 0
    capsys.readouterr()
    assert "cannot explore" in _error(capsys, ["explore", str(out), "--port", "0"])
    with socket.socket() as s:  # a port in use: one line, before the model is loaded
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        assert f"port {port} is in use" in _error(capsys, ["explore", str(vae_run), "--port", str(port)])
    assert "--port must be in 0..65535" in _error(capsys, ["explore", str(vae_run), "--port", "70000"])
    assert main(["explore", str(vae_run), "--check"]) == 0
    assert "decode:" in capsys.readouterr().err


# ------------------------------------------------------------------------------- the browser

def _webdriver(port, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as r:
        return json.loads(r.read())["value"]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(check, seconds=30.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out")


NO_BROWSER = pytest.mark.skipif(
    not (shutil.which("chromedriver") and (shutil.which("chromium") or shutil.which("chromium-browser"))),
    reason="headless browser test: Debian's chromium and chromium-driver are not installed "
           "(scripts/setup.sh installs them where apt-get and root are available)")


@contextmanager
def browser():
    """A headless Chromium session: yields (open(url), script(code, *args))."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    port = _free_port()
    driver = subprocess.Popen([shutil.which("chromedriver"), f"--port={port}"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    session = None
    try:
        def ready():
            try:
                return _webdriver(port, "GET", "/status").get("ready")
            except OSError:  # not listening yet
                return False

        _wait(ready)
        caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": binary, "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                                       "--window-size=1200,900"]}}}}
        session = _webdriver(port, "POST", "/session", caps)["sessionId"]

        def script(code, *args):
            return _webdriver(port, "POST", f"/session/{session}/execute/sync", {"script": code, "args": list(args)})

        def open_page(url):
            _webdriver(port, "POST", f"/session/{session}/url", {"url": url})
            _wait(lambda: script("return document.body.dataset.ready === '1'"))

        yield open_page, script
    finally:
        if session is not None:
            try:
                _webdriver(port, "DELETE", f"/session/{session}")
            except OSError:
                pass
        driver.terminate()
        driver.wait(timeout=10)


PIXELS = ("const c = document.createElement('canvas'); const i = document.getElementById(arguments[0]);"
          "c.width = i.naturalWidth; c.height = i.naturalHeight; c.getContext('2d').drawImage(i, 0, 0);"
          "return c.toDataURL()")
SHOWN = ("const i = document.getElementById(arguments[0]);"
         "return i.complete && i.naturalWidth > 0 && i.dataset.shown !== arguments[1] && i.dataset.shown")


@NO_BROWSER
def test_browser_moves_a_slider_and_the_image_changes(vae_run):
    with browser() as (open_page, script), serving(vae_run) as url:
        open_page(url)
        shown = _wait(lambda: script(SHOWN, "decode-img", None))
        before = script(PIXELS, "decode-img")
        # move the first slider as a user would: set it and fire the input event
        script("const s = document.getElementById('slider-0'); s.value = 2.5;"
               "s.dispatchEvent(new Event('input', {bubbles: true}))")
        after_url = _wait(lambda: script(SHOWN, "decode-img", shown))
        assert "v=2.5" in after_url
        after = script(PIXELS, "decode-img")
        assert before.startswith("data:image/png") and after != before  # the decoded image changed
        assert script("return document.getElementById('status').textContent") == "ready"
        assert script("return document.getElementById('styles').hidden")  # a VAE has no styles to mix


@NO_BROWSER
def test_browser_mixes_styles(stylegan_run):
    with browser() as (open_page, script), serving(stylegan_run) as url:
        open_page(url)
        assert not script("return document.getElementById('styles').hidden")
        shown = _wait(lambda: script(SHOWN, "style-img", None))
        assert "level=coarse" in shown
        before = script(PIXELS, "style-img")
        script("const s = document.getElementById('style-level'); s.value = 'fine';"
               "s.dispatchEvent(new Event('change', {bubbles: true}))")
        assert "level=fine" in _wait(lambda: script(SHOWN, "style-img", shown))
        assert script(PIXELS, "style-img") != before
        assert script("return document.getElementById('status').textContent") == "ready"


@NO_BROWSER
def test_browser_shows_clips_as_strips_and_an_animation(clip_runs):
    with browser() as (open_page, script), serving(clip_runs["video-gan"]) as url:
        open_page(url)
        assert "/api/sample?seed=0" in _wait(lambda: script(SHOWN, "sample-img", None))
        shown = _wait(lambda: script(SHOWN, "clip-img", None))
        assert "/api/clip?seed=0" in shown and not script("return document.getElementById('clip-img').hidden")
        assert "4 frames per row" in script("return document.getElementById('sample-note').textContent")
        assert not script("return document.getElementById('latent').hidden")  # sliders over video-gan's noise
        assert script("return document.getElementById('traj').hidden")
        assert script("return document.getElementById('status').textContent") == "ready"


@NO_BROWSER
def test_browser_translates_a_test_input_both_ways(translator_runs):
    with browser() as (open_page, script), serving(translator_runs["cyclegan"]) as url:
        open_page(url)
        assert script("return document.getElementById('samples').hidden")  # a translator does not sample
        assert not script("return document.getElementById('translate').hidden")
        shown = _wait(lambda: script(SHOWN, "tr-img", None))
        assert "index=0" in shown and "direction=AB" in shown
        assert "cycle back (B -> A)" in script("return document.getElementById('tr-columns').textContent")
        before = script(PIXELS, "tr-img")
        script("const s = document.getElementById('tr-direction'); s.value = 'BA';"
               "s.dispatchEvent(new Event('change', {bubbles: true}))")
        assert "direction=BA" in _wait(lambda: script(SHOWN, "tr-img", shown))
        assert script(PIXELS, "tr-img") != before
        assert script("return document.getElementById('status').textContent") == "ready"


@pytest.mark.parametrize("name,fields", [("score-sde", {"sampler": "ode", "sample_steps": 3}),
                                         ("ncsn", {"num_levels": 3, "sample_steps": 2})])
def test_a_score_models_trajectory_ends_at_its_own_sample(name, fields):
    """Row 1 starts at the prior draw and ends, like row 2, at the sample the same seed gives."""
    from genlab import registry

    model = registry.build(name, {"data_shape": [1, 8, 8], "base_width": 8, "width_mults": [1], "norm_groups": 4,
                                  "attention_size": 0, **fields}).eval()
    torch.manual_seed(4)
    strip = model.denoising_trajectory(frames=4)
    torch.manual_seed(4)
    sample = model.sample(1)[0]
    assert strip.shape == (8, 1, 8, 8)
    assert torch.allclose(strip[3], sample, atol=1e-6) and torch.allclose(strip[7], sample, atol=1e-6)
    torch.manual_seed(4)  # the first frame is the prior draw, the sampler's start
    start = model.sde.prior_sample((1, 1, 8, 8)) if name == "score-sde" else torch.randn(1, 1, 8, 8) * 5.0
    assert torch.allclose(strip[0], ((start[0] + 1) / 2).clamp(0, 1), atol=1e-6)
    assert not torch.allclose(strip[0], strip[3])

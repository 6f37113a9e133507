"""``examples/notebooks/*.ipynb``: each runs in a real Jupyter kernel (with
``SWIFTPROP_FAST=1``), agrees with its tutorial, and, converted to HTML by
nbconvert, shows its explain tables, network summaries and figures in
headless Chromium.

Set ``SWIFTPROP_SCREENSHOTS`` to a folder to keep one screenshot per
notebook there.
"""

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("matplotlib")

NOTEBOOKS = Path(__file__).resolve().parents[2] / "examples" / "notebooks"

# What each notebook must print: its agreement with the tutorial.
EXPECTED = {
    "forward_example": ["a = [0.8909 0.9926]",
                        "engine == NumPy to 1e-12: True"],
    "backward_step": ["dL/da2 from the engine's loss: [[0.8 0.2]]",
                      "new weights agree to 1e-12: True"],
    "linear_regression_step": ["by hand: w = 0.42  b = 0.16",
                               "engine:  w = 0.42  b = 0.16"],
    "xor_numpy": ["losses agree to 1e-12: True",
                  "first step agrees to 1e-12: True",
                  "predicted classes: [0 1 1 0]"],
    "xor_torch": ["Epoch [2000/2000], Loss:"],
    "two_moons": ["validation accuracy"],
}
# Figures each notebook draws (image/png outputs).
FIGURES = {"forward_example": 1, "backward_step": 1,
           "linear_regression_step": 1, "xor_numpy": 2, "xor_torch": 1,
           "two_moons": 3}
NAMES = sorted(EXPECTED)


def test_every_notebook_is_tested():
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == NAMES


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """Each notebook executed once, as ``{name: notebook}``; also written
    to a temporary folder for the browser test."""
    folder = tmp_path_factory.mktemp("executed")
    environment = {"SWIFTPROP_FAST": "1",
                   "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
    saved = {key: os.environ.get(key) for key in environment}
    os.environ.update(environment)  # the kernels inherit them
    try:
        notebooks = {}
        for name in NAMES:
            path = NOTEBOOKS / f"{name}.ipynb"
            notebook = nbformat.read(path, as_version=4)
            client = nbclient.NotebookClient(
                notebook, timeout=300, kernel_name="python3",
                resources={"metadata": {"path": str(NOTEBOOKS)}})
            client.execute()  # raises CellExecutionError naming the cell
            nbformat.write(notebook, folder / f"{name}.ipynb")
            notebooks[name] = notebook
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return folder, notebooks


def outputs_of(notebook):
    return [output for cell in notebook.cells if cell.cell_type == "code"
            for output in cell.outputs]


@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs_and_agrees_with_its_tutorial(executed, name):
    notebook = executed[1][name]
    outputs = outputs_of(notebook)
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "\n".join(o.get("text", "") for o in outputs)
    assert "fast mode: True" in text
    for line in EXPECTED[name]:
        assert line in text, line
    pages = [o["data"]["text/html"] for o in outputs
             if "text/html" in o.get("data", {})]
    assert any("swiftprop-explain-backward" in page for page in pages)
    assert any(page.startswith("<table><caption>Network") for page in pages)
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == FIGURES[name]
    if name == "two_moons":
        accuracy = float(re.search(r"validation accuracy ([0-9.]+)",
                                   text).group(1))
        assert accuracy >= 0.9
    if name == "xor_torch":
        try:
            import torch  # noqa: F401
        except ImportError:
            assert "PyTorch is not installed" in text
        else:
            assert "losses agree with PyTorch to 1e-9: True" in text


# MARK: - In a real browser

# Set on the body once the page has loaded: how many images the browser
# decoded (complete, with a width), so the DOM dump proves they render.
_COUNT_IMAGES = (
    "<script>window.addEventListener('load', function () {"
    " var n = 0; for (var i = 0; i < document.images.length; i++) {"
    " var im = document.images[i]; if (im.complete && im.naturalWidth > 0)"
    " n++; } document.body.setAttribute('data-decoded-images', String(n));"
    " });</script>")


def chromium():
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("chromium is not installed (apt-get install -y chromium); "
                "the notebooks are not checked in a browser")


def run_chromium(binary, *arguments):
    # A profile of its own: two test runs at once (CI runs two
    # interpreters' suites together) never share one.
    with tempfile.TemporaryDirectory() as profile:
        command = [binary, "--headless", "--no-sandbox", "--disable-gpu",
                   "--disable-dev-shm-usage", "--hide-scrollbars",
                   f"--user-data-dir={profile}",
                   "--virtual-time-budget=5000", *arguments]
        return subprocess.run(command, capture_output=True, text=True,
                              timeout=300, check=True)


@pytest.mark.parametrize("name", NAMES)
def test_notebook_html_renders_in_chromium(executed, name, tmp_path):
    binary = chromium()
    import nbconvert  # a test dependency: its absence is a failure
    from matplotlib.image import imread
    folder, notebooks = executed
    page, _ = nbconvert.HTMLExporter().from_notebook_node(notebooks[name])
    assert "</head>" in page
    path = tmp_path / f"{name}.html"
    path.write_text(page.replace("</head>", _COUNT_IMAGES + "</head>", 1),
                    encoding="utf-8")

    dom = run_chromium(binary, "--dump-dom", path.as_uri()).stdout
    # The explain tables, one per stage, and the network summaries.
    for stage in ("forward", "loss", "backward", "update"):
        assert f'class="swiftprop-explain-{stage}"' in dom, stage
    assert re.search(r"<caption>Network [0-9-]+: loss", dom)
    assert "delta1" in dom and "W1 new" in dom
    # The figures: img tags with PNG data, all decoded by the browser.
    images = re.findall(r'<img[^>]*src="data:image/png;base64,([^"]*)"', dom)
    assert len(images) == FIGURES[name]
    assert all(len(data) > 1000 for data in images)
    decoded = re.search(r'data-decoded-images="(\d+)"', dom)
    assert decoded, "the page's load handler did not run"
    assert int(decoded.group(1)) == FIGURES[name]

    screens = Path(os.environ.get("SWIFTPROP_SCREENSHOTS", tmp_path))
    screens.mkdir(parents=True, exist_ok=True)
    screenshot = screens / f"{name}.png"
    run_chromium(binary, "--window-size=1280,6000",
                 f"--screenshot={screenshot}", path.as_uri())
    image = imread(screenshot)
    assert image.shape[:2] == (6000, 1280)
    assert image[..., :3].std() > 0.05  # not a blank page

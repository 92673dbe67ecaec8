"""docs/models.md, run as a reader would: each example's script writes its training data and
trains its model into a temporary folder, and `register_model` registers the result against the
test database with its real sandboxed checks. What the page quotes (methods, rejection reasons,
the external scorer's answers) is checked against what the code says."""

from __future__ import annotations

import json
import os
import pickle
import re
import subprocess
import sys
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
import skops.io
from django.core.management import CommandError, call_command
from onnx import TensorProto, helper, numpy_helper
from skl2onnx import to_onnx
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from decisions.models import DecisionModel, ModelVersion
from explanations.models import Explanation

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "docs" / "examples"
DOC = (ROOT / "docs" / "models.md").read_text()

# example: (script, data set, target column, the file it writes)
SCRIPTS = {
    "logistic": ("train_logistic.py", "tumours", "diagnosis", "model.skops"),
    "lightgbm": ("train_lightgbm.py", "tumours", "diagnosis", "model.txt"),
    "onnx": ("train_onnx_mlp.py", "tumours", "diagnosis", "model.onnx"),
    "regression": ("train_regression.py", "progression", "progression", "model.skops"),
}


def run_example(script: str, *args) -> str:
    """`PYTHONPATH=. python docs/examples/SCRIPT ARGS` from the repository root, as the page says."""
    completed = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *map(str, args)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    return completed.stdout


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("data")
    run_example("write_example_data.py", folder)
    return folder


@pytest.fixture(scope="module")
def built(data, tmp_path_factory):
    """example -> (its build folder, what its script printed); each trained once, when first used."""
    done: dict[str, tuple[Path, str]] = {}

    def build(example: str) -> tuple[Path, str]:
        if example not in done:
            script, dataset, target, _ = SCRIPTS[example]
            out = tmp_path_factory.mktemp(example)
            printed = run_example(
                script,
                data / f"{dataset}.csv",
                "--target",
                target,
                "--schema",
                EXAMPLES / dataset / "schema.json",
                "--output",
                EXAMPLES / dataset / "output.json",
                "--out",
                out,
            )
            done[example] = (out, printed)
        return done[example]

    return build


def register(name: str, version: str, framework: str, dataset: str, *, artifact=None, background=None) -> str:
    """`manage.py register_model` with the example's documents; what it printed."""
    args = [name, version, "--framework", framework]
    if artifact is not None:
        args += ["--artifact", str(artifact)]
    if background is not None:
        args += ["--background", str(background)]
    for option in ("schema", "output", "texts"):
        args += [f"--{option}", str(EXAMPLES / dataset / f"{option}.json")]
    printed = StringIO()
    call_command("register_model", *args, stdout=printed)
    return printed.getvalue()


def register_built(built, example: str, name: str, version: str, framework: str) -> str:
    out, _ = built(example)
    dataset, artifact = SCRIPTS[example][1], SCRIPTS[example][3]
    return register(
        name, version, framework, dataset, artifact=out / artifact, background=out / "background.npy"
    )


@pytest.mark.parametrize(
    ("example", "name", "framework", "method", "output_space"),
    [
        ("logistic", "tumour-triage", "sklearn", "linear", "log_odds"),
        ("lightgbm", "tumour-triage", "lightgbm", "tree", "log_odds"),
        ("onnx", "tumour-triage", "onnx", "exact", "probability"),
        ("regression", "progression", "sklearn", "tree", "score"),
    ],
)
def test_each_uploaded_example_passes_its_checks_with_the_method_the_page_names(
    db, built, example, name, framework, method, output_space
):
    printed = register_built(built, example, name, "1.0", framework)

    version = ModelVersion.objects.select_related("model").get(model__name=name, version="1.0")
    assert version.checks["state"] == "passed", version.checks["reasons"]
    assert version.status == "active" and version.model.default_version_id == version.pk
    report = version.checks["report"]
    assert (report["method"], report["output_space"], report["rows_explained"]) == (method, output_space, 20)
    assert report["max_additivity_error"] < 1e-9
    assert f"passed its checks ({method}, additivity error" in printed
    assert f"passed its checks ({method}, additivity error" in DOC
    assert f"--framework {framework}" in DOC and SCRIPTS[example][0] in DOC


def test_the_scripts_train_models_as_good_as_the_page_says(built):
    _, logistic = built("logistic")
    _, onnx = built("onnx")
    _, regression = built("regression")

    accuracy = float(re.search(r"held-out accuracy (\S+)", logistic).group(1))
    difference = float(re.search(r"largest difference from scikit-learn: (\S+)", onnx).group(1))
    assert accuracy > 0.9 and f"held-out accuracy {accuracy:.3f}" in DOC
    assert difference < 1e-5
    assert "held-out mean absolute error" in regression


def test_a_later_version_stays_a_candidate_until_promoted_and_can_run_in_shadow(db, built):
    register_built(built, "logistic", "tumour-triage", "1.0", "sklearn")
    printed = register_built(built, "lightgbm", "tumour-triage", "2.0", "lightgbm")
    register_built(built, "onnx", "tumour-triage", "3.0", "onnx")
    model = DecisionModel.objects.get(name="tumour-triage")
    first, second, third = (model.versions.get(version=v) for v in ("1.0", "2.0", "3.0"))
    assert "a candidate: promote it with promote_model" in printed
    assert (second.status, third.status, model.default_version_id) == ("candidate", "candidate", first.pk)

    call_command("promote_model", "tumour-triage", "2.0", stdout=StringIO())
    call_command("promote_model", "tumour-triage", "3.0", "--shadow", "on", stdout=StringIO())

    model.refresh_from_db()
    first.refresh_from_db()
    second.refresh_from_db()
    third.refresh_from_db()
    assert model.default_version_id == second.pk
    assert (first.status, second.status) == ("active", "active")  # 1.0 still serves requests naming it
    assert (third.status, third.shadow) == ("candidate", True)
    with pytest.raises(CommandError, match="it is the model's default: promote another version first"):
        call_command("promote_model", "tumour-triage", "2.0", "--retire", stdout=StringIO())


def test_the_external_scorer_is_registered_and_its_contributions_are_recorded(db, integration):
    printed = register("loan-scorer", "2024.1", "external", "external")
    decision = json.loads((EXAMPLES / "external" / "decision.json").read_text())

    response = integration.post("/api/v1/decisions/", data=decision, format="json")

    assert "passed its checks (supplied" in printed
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["outcome"], body["favourable"], body["score"]) == ("approved", True, 0.61)
    assert body["explanation"]["status"] == "done"
    explanation = Explanation.objects.get(decision_id=body["id"])
    assert (explanation.status, explanation.method) == ("done", "supplied")
    assert explanation.contributions == decision["contributions"]
    assert explanation.base_value == decision["base_value"]


def test_contributions_that_do_not_add_up_are_refused_as_the_page_shows(db, integration):
    register("loan-scorer", "2024.1", "external", "external")
    decision = json.loads((EXAMPLES / "external" / "decision.json").read_text())

    response = integration.post("/api/v1/decisions/", data={**decision, "score": 0.7}, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "detail": "invalid decision",
        "errors": {"contributions": "base_value + contributions = 0.61, but score = 0.7: they must add up"},
    }
    assert f"400 {json.dumps(response.json())}" in DOC


def test_the_documented_api_registration_answers_202_with_pending_checks(db, built, integration):
    out, _ = built("lightgbm")
    tumours = EXAMPLES / "tumours"
    with (
        open(out / "model.txt", "rb") as artifact,
        open(out / "background.npy", "rb") as background,
        open(tumours / "schema.json", "rb") as schema,
        open(tumours / "output.json", "rb") as output,
        open(tumours / "texts.json", "rb") as texts,
    ):
        response = integration.post(
            "/api/v1/models/",
            data={
                "name": "tumour-triage",
                "version": "4.0",
                "framework": "lightgbm",
                "artifact": artifact,
                "background": background,
                "schema": schema,
                "output": output,
                "texts": texts,
            },
            format="multipart",
        )

    assert response.status_code == 202, response.content
    body = response.json()
    assert (body["status"], body["checks"]["state"]) == ("candidate", "pending")
    assert body["controller"] == "Example Screening Service"
    assert response["Location"] == "/api/v1/models/tumour-triage/versions/4.0/"
    assert "-F name=tumour-triage -F version=4.0 -F framework=lightgbm" in DOC


@pytest.mark.parametrize(("dataset", "target"), [("tumours", "diagnosis"), ("progression", "progression")])
def test_the_committed_schemas_are_the_drafts_with_words_added(data, tmp_path, dataset, target):
    call_command(
        "draft_schema",
        str(data / f"{dataset}.csv"),
        "--target",
        target,
        "--out",
        str(tmp_path / "schema.json"),
        "--output-json",
        str(tmp_path / "output.json"),
        stderr=StringIO(),
    )
    drafted = json.loads((tmp_path / "schema.json").read_text())["features"]
    committed = json.loads((EXAMPLES / dataset / "schema.json").read_text())["features"]
    kept = ("name", "type", "minimum", "maximum", "integer", "mutable", "protected")

    assert [{k: f[k] for k in kept} for f in committed] == [{k: f[k] for k in kept} for f in drafted]
    assert all(f["label"] and f["description"] for f in committed)
    draft_output = json.loads((tmp_path / "output.json").read_text())
    output = json.loads((EXAMPLES / dataset / "output.json").read_text())
    assert output["type"] == draft_output["type"]
    if output["type"] == "binary":
        assert output["class_labels"] == draft_output["class_labels"]  # the model's class order


def _tumour_data() -> tuple[np.ndarray, np.ndarray]:
    """The ten columns of tumours.csv (the data set's first ten), and the diagnosis as
    positions in tumours/output.json's class_labels (benign, malignant)."""
    X, y = load_breast_cancer(return_X_y=True)
    return X[:, :10], 1 - y


def _pickled() -> bytes:
    X, y = _tumour_data()
    return pickle.dumps(make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X, y))


def _zipmap_onnx() -> bytes:
    X, y = _tumour_data()
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y)
    # skl2onnx's default output for a classifier: ZipMap, a list of {class: probability}
    return to_onnx(model, X[:1].astype(np.float32), target_opset=17).SerializeToString()


def _logits_onnx() -> bytes:
    weights = np.random.default_rng(0).normal(size=(10, 2)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["x", "w"], ["logits"])],
        "logits",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 10])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [None, 2])],
        initializer=[numpy_helper.from_array(weights, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 10
    return model.SerializeToString()


def _skops(model, columns: int) -> bytes:
    X, y = _tumour_data()
    return skops.io.dumps(model.fit(X[:, :columns], y))


@pytest.mark.parametrize(
    ("framework", "make", "reason"),
    [
        (
            "sklearn",
            _pickled,
            "artifact: pickle and joblib files are refused: loading one runs code from the file. "
            "Save the model with skops.io.dump instead",
        ),
        (
            "onnx",
            _zipmap_onnx,
            "artifact: the ONNX model's probabilities are a sequence of maps (skl2onnx's ZipMap): "
            'export it with options={"zipmap": False}',
        ),
        (
            "sklearn",
            lambda: _skops(make_pipeline(StandardScaler(), LogisticRegression()), 9),
            "input width: the model takes 9 columns, the schema encodes 10",
        ),
        (
            "sklearn",
            lambda: _skops(Ridge(), 10),
            "output: the model gives (1,) per row, the output semantics need 2 class probabilities",
        ),
        (
            "onnx",
            _logits_onnx,
            "output: the model's outputs are not probabilities in [0, 1] (export its probabilities, not logits)",
        ),
    ],
    ids=["pickle", "zipmap", "width", "regression-as-binary", "logits"],
)
def test_the_troubleshooting_table_quotes_the_checks_reasons(db, tmp_path, framework, make, reason):
    artifact = tmp_path / "artifact"
    artifact.write_bytes(make())
    background = tmp_path / "background.npy"
    np.save(background, _tumour_data()[0][:50])

    with pytest.raises(CommandError) as refused:
        register("tumour-triage", "9.0", framework, "tumours", artifact=artifact, background=background)

    assert str(refused.value) == f"tumour-triage@9.0 rejected: {reason}"
    assert ModelVersion.objects.get(model__name="tumour-triage", version="9.0").status == "rejected"
    assert f"| `{reason}` |" in DOC


def test_the_pages_python_compiles_and_every_file_it_names_exists():
    blocks = re.findall(r"```python\n(.*?)```", DOC, flags=re.DOTALL)
    for block in blocks:
        compile(block, "docs/models.md", "exec")
    named = set(re.findall(r"docs/examples/[\w./-]+\.(?:py|json)", DOC))
    linked = {f"docs/{path}" for path in re.findall(r"\]\((examples/[\w./-]+)\)", DOC)}

    assert len(blocks) >= 4
    assert {"docs/examples/train_logistic.py", "docs/examples/external/decision.json"} <= named
    assert [path for path in sorted(named | linked) if not (ROOT / path).exists()] == []


def _code_lines(text: str) -> list[str]:
    """Lines of code without trailing comments or blank lines."""
    lines = (line.split("  # ")[0].rstrip() for line in text.splitlines())
    return [line for line in lines if line.strip() and not line.lstrip().startswith("#")]


def test_the_excerpts_on_the_page_are_the_scripts_code():
    scripts = {path.name: _code_lines(path.read_text()) for path in EXAMPLES.glob("*.py")}
    excerpts = 0
    for block in re.findall(r"```python\n(.*?)```", DOC, flags=re.DOTALL):
        lines = [line for line in _code_lines(block) if not line.startswith(("import ", "from "))]
        sources = [name for name, code in scripts.items() if lines[0] in code]
        if sources:
            excerpts += 1
            assert [line for line in lines if line not in scripts[sources[0]]] == [], sources[0]

    assert excerpts >= 2


def test_the_documents_shown_on_the_page_are_the_example_files():
    files = [json.loads(path.read_text()) for path in EXAMPLES.rglob("*.json")]
    shown = [json.loads(block) for block in re.findall(r"```json\n(.*?)```", DOC, flags=re.DOTALL)]
    documents = [d for d in shown if "type" in d or "subject_ref" in d]

    assert len(documents) == 3  # the two output semantics and the external scorer's decision
    assert [d for d in documents if d not in files] == []

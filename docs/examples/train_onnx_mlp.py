"""Example 3 of docs/models.md: a neural network exported to ONNX. Here a scikit-learn
MLPClassifier, converted with skl2onnx (docs/models.md shows the same export from PyTorch).
Writes OUT/model.onnx and OUT/background.npy.

    PYTHONPATH=. python docs/examples/train_onnx_mlp.py tumours.csv --target diagnosis \
        --schema docs/examples/tumours/schema.json --output docs/examples/tumours/output.json --out build/
"""

from pathlib import Path

import numpy as np
import onnxruntime
from example_data import arguments, class_indices, load, save_background, split
from skl2onnx import to_onnx
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

args = arguments(__doc__)
out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)
schema, output, rows, targets = load(args)
X = schema.encode(rows)
y = class_indices(output, targets)
train, held_out = split(len(y))

# The scaler is part of the exported graph: Rationale sends the schema's columns as they are.
network = MLPClassifier(hidden_layer_sizes=(16,), max_iter=2000, random_state=0)
model = make_pipeline(StandardScaler(), network).fit(X[train], y[train])
print(f"held-out accuracy {model.score(X[held_out], y[held_out]):.3f}")

# zipmap False: the probabilities as one (n, 2) float tensor, not a list of dicts.
exported = to_onnx(model, X[:1].astype(np.float32), options={"zipmap": False}, target_opset=17)
assert exported.ir_version <= 13, "onnxruntime 1.31 reads ONNX IR versions up to 13"
(out / "model.onnx").write_bytes(exported.SerializeToString())

# The file gives what the model gives (in float32).
session = onnxruntime.InferenceSession(out / "model.onnx", providers=["CPUExecutionProvider"])
probabilities = session.run(["probabilities"], {"X": X[held_out].astype(np.float32)})[0]
difference = np.abs(probabilities - model.predict_proba(X[held_out])).max()
print(f"largest difference from scikit-learn: {difference:.1e}")

save_background(out, X[train])
print(f"wrote {out / 'model.onnx'} and {out / 'background.npy'}")

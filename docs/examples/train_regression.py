"""Example 4 of docs/models.md: a regression whose score is compared with a cut-off, a
scikit-learn GradientBoostingRegressor saved with skops. Writes OUT/model.skops and
OUT/background.npy.

    PYTHONPATH=. python docs/examples/train_regression.py progression.csv --target progression \
        --schema docs/examples/progression/schema.json --output docs/examples/progression/output.json \
        --out build/
"""

from pathlib import Path

import numpy as np
import skops.io
from example_data import arguments, load, save_background, split
from sklearn.ensemble import GradientBoostingRegressor

args = arguments(__doc__)
out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)
schema, output, rows, targets = load(args)
X = schema.encode(rows)
y = np.array([float(t) for t in targets])  # the score itself, in its own units
train, held_out = split(len(y))

model = GradientBoostingRegressor(n_estimators=150, max_depth=2, learning_rate=0.05, random_state=0)
model.fit(X[train], y[train])
error = np.abs(model.predict(X[held_out]) - y[held_out]).mean()
print(f"held-out mean absolute error {error:.1f}")
above = model.predict(X[held_out]) >= output["threshold"]
agreement = np.mean(above == (y[held_out] >= output["threshold"]))
print(f"held-out agreement with the cut-off {output['threshold']}: {agreement:.3f}")

skops.io.dump(model, out / "model.skops")
save_background(out, X[train])
print(f"wrote {out / 'model.skops'} and {out / 'background.npy'}")

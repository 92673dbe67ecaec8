"""Example 1 of docs/models.md: a scikit-learn Pipeline (StandardScaler, LogisticRegression)
saved with skops. Writes OUT/model.skops and OUT/background.npy.

    PYTHONPATH=. python docs/examples/train_logistic.py tumours.csv --target diagnosis \
        --schema docs/examples/tumours/schema.json --output docs/examples/tumours/output.json --out build/
"""

from pathlib import Path

import skops.io
from example_data import arguments, class_indices, load, save_background, split
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

args = arguments(__doc__)
out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)
schema, output, rows, targets = load(args)
X = schema.encode(rows)  # the columns Rationale will give the model, in the schema's order
y = class_indices(output, targets)
train, held_out = split(len(y))

model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
model.fit(X[train], y[train])
print(f"held-out accuracy {model.score(X[held_out], y[held_out]):.3f}")

skops.io.dump(model, out / "model.skops")
save_background(out, X[train])
print(f"wrote {out / 'model.skops'} and {out / 'background.npy'}")

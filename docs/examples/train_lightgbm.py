"""Example 2 of docs/models.md: a LightGBM booster saved as text. Writes OUT/model.txt and
OUT/background.npy.

    PYTHONPATH=. python docs/examples/train_lightgbm.py tumours.csv --target diagnosis \
        --schema docs/examples/tumours/schema.json --output docs/examples/tumours/output.json --out build/
"""

from pathlib import Path

import lightgbm as lgb
import numpy as np
from example_data import arguments, class_indices, load, save_background, split

args = arguments(__doc__)
out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)
schema, output, rows, targets = load(args)
X = schema.encode(rows)
y = class_indices(output, targets)
train, held_out = split(len(y))

params = {"objective": "binary", "num_leaves": 15, "learning_rate": 0.05, "seed": 0, "verbose": -1}
booster = lgb.train(params, lgb.Dataset(X[train], y[train]), num_boost_round=200)
accuracy = np.mean((booster.predict(X[held_out]) >= output["threshold"]) == y[held_out])
print(f"held-out accuracy {accuracy:.3f}")

booster.save_model(out / "model.txt")  # text: Booster.save_model or model_to_string
save_background(out, X[train])
print(f"wrote {out / 'model.txt'} and {out / 'background.npy'}")

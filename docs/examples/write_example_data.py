"""Write the two training sets the examples of docs/models.md use, from data bundled with
scikit-learn (nothing is downloaded):

- tumours.csv: the ten "mean_..." measurements of the Wisconsin breast cancer data and the diagnosis
  ("malignant" or "benign"), 569 rows;
- progression.csv: the diabetes data in its original units (age, sex, BMI, blood pressure and
  six blood serum measurements) and "progression", a score of disease progression one year
  later, 442 rows.

    python docs/examples/write_example_data.py DIRECTORY
"""

import sys
from pathlib import Path

from sklearn.datasets import load_breast_cancer, load_diabetes


def main(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    cancer = load_breast_cancer(as_frame=True)
    tumours = cancer.frame[[c for c in cancer.feature_names if c.startswith("mean ")]].copy()
    tumours.columns = [c.replace(" ", "_") for c in tumours.columns]  # the names a decision sends
    tumours["diagnosis"] = cancer.frame["target"].map(dict(enumerate(cancer.target_names)))
    tumours.to_csv(directory / "tumours.csv", index=False)

    diabetes = load_diabetes(as_frame=True, scaled=False).frame
    diabetes.rename(columns={"target": "progression"}).to_csv(directory / "progression.csv", index=False)
    print(
        f"wrote tumours.csv ({len(tumours)} rows) and progression.csv ({len(diabetes)} rows) to {directory}"
    )


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "."))

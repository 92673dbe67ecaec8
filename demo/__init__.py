"""The demo: three models trained from bundled data, German credit (XGBoost and a scikit-learn
logistic regression, neither taking the protected attributes it records) and digits (Keras CNN);
`manage.py seed_demo`, which registers them and records sample decisions; and `supervise.py`,
which runs `make run`'s processes.

The trainers are plain Python with no Django import; TensorFlow is imported only inside the
digits trainer.
"""

"""The demo: two models trained from bundled data, German credit (XGBoost) and digits (Keras CNN),
and `manage.py seed_demo`, which registers them and records sample decisions.

The trainers are plain Python with no Django import; TensorFlow is imported only inside the
digits trainer.
"""

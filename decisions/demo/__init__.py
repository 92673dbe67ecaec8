"""Demo models trained from bundled data: German credit (XGBoost) and digits (Keras CNN).

Plain Python with no Django import; TensorFlow is imported only inside the digits trainer.
"""

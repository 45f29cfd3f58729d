"""The torch-free runtime: ONNX encoders run with onnxruntime, preprocessing in numpy/PIL."""

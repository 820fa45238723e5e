"""The iris classifier exported to ONNX and served through onnxruntime."""

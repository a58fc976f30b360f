"""ONNX export, ONNX Runtime inference, streaming and latency benchmarks."""
